using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>Opens a disk image by format name or by probing its first bytes.</summary>
public static class DiskImage
{
    /// <summary>Opens <paramref name="path"/> as "raw" or "qcow2"; null probes for the qcow2 magic.</summary>
    public static IBlockBackend Open(string path, string? format, bool readOnly) => Open(path, format, readOnly, 0);

    internal static IBlockBackend Open(string path, string? format, bool readOnly, int depth) =>
        (format ?? Probe(path)) switch
        {
            "raw" => new RawImage(path, readOnly),
            "qcow2" => Qcow2Image.Open(path, readOnly, depth),
            var other => throw new ImageFormatException($"'{path}': image format '{other}' is not supported (raw or qcow2)"),
        };

    /// <summary>
    /// Opens the backing file <paramref name="path"/> of <paramref name="overlay"/>. Without a declared format
    /// (qcow2's backing-format extension) the file is probed, and a probe may only find raw: a file that merely
    /// looks like qcow2 could be a raw disk a guest wrote a header into, naming a host file as its own backing
    /// file; qemu-img likewise refuses to create an overlay without -F. Raw can name nothing, so it is safe.
    /// </summary>
    internal static IBlockBackend OpenBacking(string overlay, string path, string? format, int depth)
    {
        if (format is null && Probe(path) != "raw")
            throw new ImageFormatException($"'{overlay}': its backing file '{path}' looks like qcow2 but the image does not declare the backing format; "
                + $"declare it with 'qemu-img rebase -u -F qcow2 -b {path} {overlay}'");
        return Open(path, format ?? "raw", readOnly: true, depth);
    }

    /// <summary>"qcow2" when the file starts with the qcow2 magic, otherwise "raw".</summary>
    public static string Probe(string path)
    {
        using SafeFileHandle file = OpenHandle(path, readOnly: true);
        Span<byte> magic = stackalloc byte[4];
        HostFile.ReadFully(file, 0, magic);
        return BinaryPrimitives.ReadUInt32BigEndian(magic) == Qcow2Header.Magic ? "qcow2" : "raw";
    }

    /// <summary>qcow2.txt: a relative backing file name is relative to the directory of the image naming it.</summary>
    public static string ResolveBacking(string imagePath, string backing) =>
        Path.IsPathRooted(backing) ? backing : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(imagePath)) ?? ".", backing);

    internal static SafeFileHandle OpenHandle(string path, bool readOnly)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.Read : FileShare.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ImageFormatException($"cannot open '{path}': {e.Message}");
        }
    }
}
