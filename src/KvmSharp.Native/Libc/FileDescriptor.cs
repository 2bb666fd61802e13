using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Native.Libc;

/// <summary>
/// Owns one Unix file descriptor and closes it exactly once, after the last call that holds a reference on it.
/// Only -1 is invalid: 0, 1 and 2 are ordinary descriptors (open(2) returns 0 when stdin was closed).
/// Native calls take the handle itself (LibraryImport adds a reference for the call's duration; see
/// <see cref="LibcImports"/>'s SafeHandle overloads and <see cref="HandleLease"/>), so a call racing a Dispose
/// can never reach a file that reused the number.
/// </summary>
public sealed class FileDescriptor : SafeHandleMinusOneIsInvalid
{
    public FileDescriptor() : base(ownsHandle: true) { }

    /// <param name="fd">A descriptor a syscall returned; the caller has checked it is not -1.</param>
    public FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>
    /// The raw number, with no reference taken: only for a hot path whose owner provably keeps this handle open for
    /// the use (say it so in a comment at the use). Everything else passes the handle or takes a <see cref="HandleLease"/>.
    /// </summary>
    public int DangerousNumberForHotPath => (int)handle;

    protected override bool ReleaseHandle() => LibcImports.Close((int)handle) == 0;
}
