using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Console;

/// <summary>The console on a new pseudo-terminal; connect to <see cref="Path"/> with screen, minicom or picocom.</summary>
public sealed unsafe class PtyConsole : ConsoleBackend
{
    private readonly FileDescriptor _master;

    public PtyConsole()
    {
        int fd = LibcImports.PosixOpenPt(LibcConstants.O_RDWR | LibcConstants.O_NOCTTY | LibcConstants.O_NONBLOCK | LibcConstants.O_CLOEXEC);
        if (fd < 0) throw new NativeException("posix_openpt", Marshal.GetLastPInvokeError());
        _master = new FileDescriptor(fd);
        byte* name = stackalloc byte[128];
        if (LibcImports.GrantPt(_master) != 0 || LibcImports.UnlockPt(_master) != 0 || LibcImports.PtsNameR(_master, name, 128) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _master.Dispose();
            throw new NativeException("setting up the pseudo-terminal", errno);
        }
        Path = Marshal.PtrToStringUTF8((nint)name) ?? "";
        // The far end sees what the guest sends, unchanged.
        Termios t;
        if (LibcImports.TcGetAttr(_master, &t) == 0) { LibcImports.CfMakeRaw(&t); LibcImports.TcSetAttr(_master, LibcConstants.TCSANOW, &t); }
    }

    public string Path { get; }

    public override void Write(ReadOnlySpan<byte> bytes) => FdIo.WriteAll(_master, bytes);

    protected override int ReadInput(Span<byte> buffer, int timeoutMs)
    {
        int n = FdIo.Read(_master, buffer, timeoutMs);
        // With no one on the other end, the master reports hang-up; keep waiting for a client.
        if (n < 0) { Thread.Sleep(timeoutMs); return 0; }
        return n;
    }

    protected override void Release() => _master.Dispose();
}
