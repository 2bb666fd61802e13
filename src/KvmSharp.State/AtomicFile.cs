using Microsoft.Win32.SafeHandles;

namespace KvmSharp.State;

/// <summary>Durable replacement of files: what a crash leaves is the old file or the new one, never a mix.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Makes a rename in <paramref name="directory"/> durable (fsync of the folder; rename(2) alone may be lost
    /// on a crash). Filesystems that cannot sync a folder are ignored: there is nothing more to do on them.
    /// </summary>
    public static void SyncDirectory(string directory)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> through a temporary file, fsync and rename.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, file => RandomAccess.Write(file, copy, 0));
    }

    /// <summary>
    /// Has <paramref name="write"/> fill a new temporary file next to <paramref name="path"/>, then fsyncs it, renames it
    /// over <paramref name="path"/> and syncs the folder. A failure leaves <paramref name="path"/> as it was.
    /// </summary>
    public static void Write(string path, Action<SafeFileHandle> write)
    {
        string full = Path.GetFullPath(path);
        string temp = full + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                write(file);
                RandomAccess.FlushToDisk(file);
            }
            File.Move(temp, full, overwrite: true);
            SyncDirectory(Path.GetDirectoryName(full)!);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
