using System.Text;
using KvmSharp.State;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// The format of each volume of a pool, kept by the daemon beside the pool's definition: set when the volume is created
/// (or cloned), and for a file that appears in the pool directory by other means probed once, when a refresh first
/// sees it. Never probed again: a guest that writes a qcow2 header into its raw volume cannot make it qcow2 (whose
/// backing file could name any host file), the reason libvirt and QEMU stopped probing writable images.
/// One line per volume: "format name", written atomically.
/// </summary>
internal sealed class VolumeFormatBook(string file)
{
    private readonly Dictionary<string, VolumeFormat> _formats = Load(file);

    public VolumeFormat? Find(string name) => _formats.TryGetValue(name, out var format) ? format : null;

    public IEnumerable<string> Names => _formats.Keys;

    public void Set(string name, VolumeFormat format)
    {
        _formats[name] = format;
        Save();
    }

    public void Remove(string name)
    {
        if (_formats.Remove(name)) Save();
    }

    private void Save()
    {
        var text = new StringBuilder();
        foreach (var (name, format) in _formats.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append(VolumeFormats.Name(format)).Append(' ').Append(name).Append('\n');
        AtomicFile.WriteAllBytes(file, Encoding.UTF8.GetBytes(text.ToString()));
    }

    private static Dictionary<string, VolumeFormat> Load(string file)
    {
        var formats = new Dictionary<string, VolumeFormat>(StringComparer.Ordinal);
        if (!File.Exists(file)) return formats;
        foreach (string line in File.ReadAllLines(file))
        {
            int space = line.IndexOf(' ');
            // A line we cannot read names no format: that volume is probed again by the next refresh.
            if (space > 0 && VolumeFormats.Parse(line[..space]) is { } format && StorageNames.Problem(line[(space + 1)..]) is null)
                formats[line[(space + 1)..]] = format;
        }
        return formats;
    }
}
