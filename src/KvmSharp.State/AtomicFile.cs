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
        string full = Path.GetFullPath(path);
        string temp = full + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
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
