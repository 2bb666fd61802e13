using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

// The libc calls on descriptors we own, taking the SafeHandle itself: the LibraryImport marshaller adds a reference
// for the call's duration (DangerousAddRef/DangerousRelease), so a Dispose racing the call closes the descriptor only
// after it returns, and a call once it is closed throws ObjectDisposedException instead of reaching whatever file reused
// the number. The handle goes over as a register-wide value whose low half a C int parameter reads (x86-64 SysV ABI).
// The int overloads in LibcImports.cs remain for descriptors no handle owns (stdin/stdout) and the KVM_RUN hot path.
public static unsafe partial class LibcImports
{
    /// <summary>ioctl(2) with a pointer argument.</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, void* arg);

    /// <summary>ioctl(2) with an integer argument.</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nuint arg);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, SafeHandle fd, long offset);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(SafeHandle fd, long length);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int TcGetAttr(SafeHandle fd, Termios* termios);

    [LibraryImport(Lib, EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int TcSetAttr(SafeHandle fd, int optionalActions, Termios* termios);

    [LibraryImport(Lib, EntryPoint = "grantpt", SetLastError = true)]
    public static partial int GrantPt(SafeHandle fd);

    [LibraryImport(Lib, EntryPoint = "unlockpt", SetLastError = true)]
    public static partial int UnlockPt(SafeHandle fd);

    [LibraryImport(Lib, EntryPoint = "ptsname_r", SetLastError = true)]
    public static partial int PtsNameR(SafeHandle fd, byte* buffer, nuint length);
}
