using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>lchown(2): the owner and group of a path, a symlink itself rather than what it names; -1 leaves one as it is.</summary>
public static partial class FileOwner
{
    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, uint owner, uint group);

    /// <exception cref="IOException">The call failed (errno in the message).</exception>
    public static void Change(string path, long owner, long group)
    {
        if (LChown(path, (uint)owner, (uint)group) != 0)
            throw new IOException($"lchown failed: {new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError()).Message}");
    }
}
