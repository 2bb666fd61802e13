using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>Who we run as, and handing a path to another owner (a pool's directory; passt's socket folder, for a helper that drops privileges).</summary>
public static partial class FileOwner
{
    /// <summary>The effective user id (geteuid(2)): 0 for root.</summary>
    public static uint EffectiveUserId => GetEuid();

    /// <summary>
    /// lchown(2): the owner and group of <paramref name="path"/>, a symlink itself rather than what it names; -1 leaves one as it is.
    /// </summary>
    /// <exception cref="IOException">The call failed (errno in the message).</exception>
    public static void Change(string path, long owner, long group)
    {
        if (LChown(path, (uint)owner, (uint)group) != 0)
            throw new IOException($"lchown {path} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
