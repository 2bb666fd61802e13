using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>Who we run as, and handing a file to another user (for a helper that drops privileges, such as passt).</summary>
public static partial class FileOwner
{
    /// <summary>The effective user id (geteuid(2)): 0 for root.</summary>
    public static uint EffectiveUserId => GetEuid();

    /// <summary>chown(2); throws <see cref="NativeException"/> on failure.</summary>
    public static void Change(string path, int owner, int group)
    {
        if (Chown(path, owner, group) != 0) throw new NativeException($"chown {path}", Marshal.GetLastPInvokeError());
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, int owner, int group);
}
