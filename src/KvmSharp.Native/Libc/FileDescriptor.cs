using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Native.Libc;

/// <summary>Owns one Unix file descriptor and closes it exactly once.</summary>
public sealed class FileDescriptor : SafeHandleZeroOrMinusOneIsInvalid
{
    public FileDescriptor() : base(ownsHandle: true) { }

    public FileDescriptor(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The raw number, for ioctls on a hot path where the owner keeps this handle alive.</summary>
    public int Number => (int)handle;

    protected override bool ReleaseHandle() => LibcImports.Close((int)handle) == 0;
}
