using System.Text;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// What a pool or volume name may be. Both become file names (a pool's state directory, a volume's file in its pool),
/// so a name is one plain file name: no '/', no leading '.' (so neither '.' nor '..' nor a hidden file), no control
/// characters, at most 255 bytes.
/// </summary>
public static class StorageNames
{
    /// <summary>What is wrong with <paramref name="name"/>, or null when nothing is.</summary>
    public static string? Problem(string name) => name switch
    {
        "" => "is empty",
        _ when name.Contains('/') => "cannot contain '/'",
        _ when name.StartsWith('.') => "cannot begin with '.'",
        _ when name.Any(char.IsControl) => "cannot contain control characters or newlines",
        _ when Encoding.UTF8.GetByteCount(name) > 255 => "is longer than 255 bytes",
        _ => null,
    };
}
