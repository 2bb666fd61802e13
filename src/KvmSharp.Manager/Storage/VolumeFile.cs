using KvmSharp.Manager.Domains;
using KvmSharp.Native.Libc;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// The file calls on volumes, none of which follows a symlink: a pool's regular files are its volumes, and a symlink
/// in the pool directory is neither a volume nor a way out of the pool. Reads open with O_NOFOLLOW and no lock (a
/// running domain's volume can still be inspected and downloaded, as libvirt allows); changes take the exclusive lock
/// the VMM takes on a writable image, so a volume a running domain writes is refused, not changed under it.
/// </summary>
internal static class VolumeFile
{
    private const int ReadOnly = 0, NoFollow = 0x20000, CloseOnExec = 0x80000;

    /// <summary>The volume's status, or the libvirt error for a path that is no regular file.</summary>
    public static FileStatus Status(string path, string name)
    {
        var status = FileStatus.Of(path) ?? throw NoVolume(name);
        if (!status.IsRegularFile)
            throw new ManagerException(ManagerError.OperationInvalid,
                $"Requested operation is not valid: '{path}' is {(status.IsSymlink ? "a symbolic link" : "not a regular file")}, not a volume");
        return status;
    }

    public static ManagerException NoVolume(string name) =>
        new(ManagerError.NoStorageVol, $"Storage volume not found: no storage vol with matching name '{name}'");

    /// <summary>Opens for reading without following a symlink and without a lock.</summary>
    public static SafeFileHandle OpenRead(string path)
    {
        int fd = LibcImports.Open(path, ReadOnly | NoFollow | CloseOnExec, 0);
        if (fd < 0)
            throw new ManagerException(ManagerError.OperationFailed,
                $"cannot open volume '{path}': {new System.ComponentModel.Win32Exception(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()).Message}");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Opens for writing with the VMM's exclusive lock, once <see cref="Status"/> said it is a regular file.</summary>
    public static SafeFileHandle OpenWrite(string path, string name)
    {
        Status(path, name);
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.Message.Contains("being used", StringComparison.OrdinalIgnoreCase))
        {
            throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: volume '{name}' is in use (a running domain has it open)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"cannot open volume '{path}': {e.Message}");
        }
    }

    /// <summary>Creates <paramref name="path"/> (O_EXCL: never over an existing file or symlink), mode 0600 as libvirt's volumes.</summary>
    public static SafeFileHandle Create(string path)
    {
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        SetMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return handle;
    }

    /// <summary>chmod(2); the daemon runs on Linux only, the guard keeps the platform analyzer content.</summary>
    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }

    /// <summary>Copies <paramref name="source"/> to a new file, leaving all-zero 64 KiB blocks as holes.</summary>
    public static void SparseCopy(string source, string target)
    {
        const int BlockSize = 64 * 1024;
        using var input = OpenRead(source);
        using var output = Create(target);
        long length = RandomAccess.GetLength(input);
        var buffer = new byte[BlockSize];
        for (long offset = 0; offset < length;)
        {
            int n = RandomAccess.Read(input, buffer, offset);
            if (n == 0) break;
            if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0)) RandomAccess.Write(output, buffer.AsSpan(0, n), offset);
            offset += n;
        }
        RandomAccess.SetLength(output, length);
        Sync(output);
    }

    /// <summary>fsync(2), then the handle is closed (FileStream owns it from here).</summary>
    public static void Sync(SafeFileHandle handle)
    {
        using var stream = new FileStream(handle, FileAccess.ReadWrite, 1);
        stream.Flush(flushToDisk: true);
    }
}
