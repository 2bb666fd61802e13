using System.Buffers.Binary;

namespace KvmSharp.Manager.Confinement;

/// <summary>
/// The backing files below a qcow2 image (qcow2 spec, "Header": backing_file_offset at byte 8, big-endian u64,
/// backing_file_size at 16, u32, at most 1023), each relative to its image's folder as QEMU resolves them: the VMM
/// opens them by name, so the VMM user must be able to read them too. Only read here; the VMM checks them itself.
/// </summary>
public static class BackingChain
{
    private const int MaxDepth = 16, MaxNameBytes = 1023;
    private const uint Qcow2Magic = 0x514649FB;   // "QFI\xfb"

    public static IReadOnlyList<string> Below(string image)
    {
        var chain = new List<string>();
        string current = image;
        for (int depth = 0; depth < MaxDepth && BackingOf(current) is { } backing; depth++)
        {
            if (chain.Contains(backing)) break;   // a loop: the VMM refuses it in its own words
            chain.Add(backing);
            current = backing;
        }
        return chain;
    }

    private static string? BackingOf(string image)
    {
        try
        {
            using var file = File.OpenHandle(image, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Span<byte> header = stackalloc byte[20];
            if (RandomAccess.Read(file, header, 0) < 20 || BinaryPrimitives.ReadUInt32BigEndian(header) != Qcow2Magic) return null;
            ulong offset = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
            uint size = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
            if (offset == 0 || size == 0 || size > MaxNameBytes || offset > (ulong)RandomAccess.GetLength(file)) return null;
            var name = new byte[size];
            if (RandomAccess.Read(file, name, (long)offset) < size) return null;
            string backing = System.Text.Encoding.UTF8.GetString(name);
            return Path.GetFullPath(backing, Path.GetDirectoryName(Path.GetFullPath(image))!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }
}
