using KvmSharp.State;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// Copies a disk image keeping holes holes (all-zero 64 KiB blocks are skipped, not written), into a temporary file
/// renamed over the target once it is complete and synced: a snapshot's disk copy, or a revert putting one back.
/// </summary>
internal static class SparseCopy
{
    private const int BlockSize = 64 * 1024;

    public static void Copy(string source, string target)
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        AtomicFile.Write(target, handle =>
        {
            var buffer = new byte[BlockSize];
            long offset = 0;
            int n;
            while ((n = input.Read(buffer)) > 0)
            {
                if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0)) RandomAccess.Write(handle, buffer.AsSpan(0, n), offset);
                offset += n;
            }
            RandomAccess.SetLength(handle, offset);
        });
    }
}
