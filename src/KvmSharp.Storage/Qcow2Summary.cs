using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>What a manager shows of a qcow2 image without opening it for I/O: its virtual size and backing file (the header checked as <see cref="DiskImage.Open(string, string?, bool)"/> checks it).</summary>
public sealed record Qcow2Summary(long VirtualSize, string? BackingFile, string? BackingFormat)
{
    public const uint Magic = Qcow2Header.Magic;

    /// <exception cref="ImageFormatException">Not a valid qcow2 image.</exception>
    public static Qcow2Summary Read(SafeFileHandle file, string path)
    {
        var header = Qcow2Header.Read(file, RandomAccess.GetLength(file), path);
        return new Qcow2Summary(header.Size, header.BackingFile, header.BackingFormat);
    }
}
