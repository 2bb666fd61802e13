namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// What a domain or snapshot name may be: the daemon files definitions and snapshots by name, so no '/', no control
/// characters, not '.' or '..', at most 200 characters (a file name has 255 bytes).
/// </summary>
public static class DomainNames
{
    /// <summary>What is wrong with <paramref name="name"/> ("cannot contain '/'"), or null when nothing is.</summary>
    public static string? Problem(string name) => name switch
    {
        "" => "is empty",
        "." or ".." => "cannot be '.' or '..'",
        _ when name.Length > 200 => "is longer than 200 characters",
        _ when name.Contains('/') => "cannot contain '/'",
        _ when name.Any(char.IsControl) => "cannot contain control characters or newlines",
        _ when name.Trim() != name => "cannot begin or end with white space",
        _ => null,
    };
}
