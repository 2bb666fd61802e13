using System.Text;

namespace KvmSharp.Machine.Images;

/// <summary>
/// Writes a cpio archive in the "newc" (SVR4, no CRC) format, the one the Linux kernel unpacks as an
/// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). Each entry is a 110-byte
/// ASCII header ("070701" and thirteen 8-digit hex fields), the NUL-terminated name padded to a multiple
/// of 4, then the data padded to a multiple of 4; the archive ends with an entry named "TRAILER!!!".
/// Times and owners are fixed (mtime 0, root) so the same inputs give the same bytes.
/// </summary>
public sealed class CpioNewcWriter(Stream output)
{
    public const string Magic = "070701";
    public const string TrailerName = "TRAILER!!!";
    public const int HeaderLength = 110;

    // File types from <sys/stat.h>, as the kernel's initramfs unpacker reads them.
    public const uint TypeDirectory = 0x4000;
    public const uint TypeCharDevice = 0x2000;
    public const uint TypeRegular = 0x8000;
    public const uint TypeSymlink = 0xA000;

    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private uint _nextInode = 1;
    private bool _finished;

    public void AddDirectory(string path, uint permissions = 0x1ED /* 0755 */) =>
        AddEntry(path, TypeDirectory | permissions, nlink: 2, [], 0, 0);

    public void AddFile(string path, ReadOnlySpan<byte> contents, uint permissions = 0x1A4 /* 0644 */) =>
        AddEntry(path, TypeRegular | permissions, nlink: 1, contents, 0, 0);

    public void AddSymlink(string path, string target) =>
        AddEntry(path, TypeSymlink | 0x1FF /* 0777 */, nlink: 1, Encoding.UTF8.GetBytes(target), 0, 0);

    public void AddCharDevice(string path, uint major, uint minor, uint permissions = 0x180 /* 0600 */) =>
        AddEntry(path, TypeCharDevice | permissions, nlink: 1, [], major, minor);

    /// <summary>Writes the trailer; the archive is complete after this.</summary>
    public void Finish()
    {
        if (_finished) return;
        WriteHeader(TrailerName, inode: 0, mode: 0, nlink: 1, fileSize: 0, 0, 0);
        _finished = true;
    }

    private void AddEntry(string path, uint mode, uint nlink, ReadOnlySpan<byte> data, uint rdevMajor, uint rdevMinor)
    {
        if (_finished) throw new InvalidOperationException("the archive is already finished");
        string name = Normalize(path);
        if (!_names.Add(name)) throw new ArgumentException($"'{name}' is already in the archive", nameof(path));
        WriteHeader(name, _nextInode++, mode, nlink, (uint)data.Length, rdevMajor, rdevMinor);
        output.Write(data);
        Pad(data.Length);
    }

    /// <summary>Archive names are relative ("bin/sh"); the kernel unpacks them below its rootfs.</summary>
    private static string Normalize(string path)
    {
        string name = path.TrimStart('/');
        if (name.Length == 0 || name == TrailerName || name.Contains('\0') || name.Split('/').Any(p => p is "" or "." or ".."))
            throw new ArgumentException($"'{path}' is not a valid archive path", nameof(path));
        return name;
    }

    private void WriteHeader(string name, uint inode, uint mode, uint nlink, uint fileSize, uint rdevMajor, uint rdevMinor)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderLength);
        header.Append(Magic);
        // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
        foreach (uint field in (ReadOnlySpan<uint>)[inode, mode, 0, 0, nlink, 0, fileSize, 0, 0, rdevMajor, rdevMinor, (uint)nameBytes.Length + 1, 0])
            header.Append(field.ToString("x8"));
        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(nameBytes);
        output.WriteByte(0);
        Pad(HeaderLength + nameBytes.Length + 1);
    }

    private void Pad(int length)
    {
        int padding = (4 - length % 4) % 4;
        for (int i = 0; i < padding; i++) output.WriteByte(0);
    }
}
