using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>Owns one mmap(2) mapping and unmaps it exactly once.</summary>
public sealed class MappedMemory : SafeHandle
{
    private MappedMemory(nint address, nuint length) : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public nuint Length { get; }

    public nint Address => handle;

    public override bool IsInvalid => handle == -1 || handle == 0;

    /// <summary>Private anonymous memory, reserved lazily (pages are allocated on first touch).</summary>
    public static MappedMemory Anonymous(nuint length)
    {
        nint address = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE,
            LibcConstants.MAP_PRIVATE | LibcConstants.MAP_ANONYMOUS | LibcConstants.MAP_NORESERVE, -1, 0);
        if (address == -1)
            throw new NativeException("mmap of guest memory", Marshal.GetLastPInvokeError());
        return new MappedMemory(address, length);
    }

    /// <summary>
    /// A private (copy-on-write) mapping of <paramref name="length"/> bytes of a file from <paramref name="offset"/>:
    /// pages are read from the file when first touched and writes never reach it (a restored snapshot's RAM).
    /// </summary>
    public static MappedMemory PrivateFile(SafeHandle file, nuint length, long offset)
    {
        // The marshaller holds the fd open for the call; the mapping outlives it by design (mmap(2) takes its own reference).
        nint address = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE,
            LibcConstants.MAP_PRIVATE | LibcConstants.MAP_NORESERVE, file, offset);
        if (address == -1)
            throw new NativeException("mmap of a memory file", Marshal.GetLastPInvokeError());
        return new MappedMemory(address, length);
    }

    /// <summary>A shared mapping of a file descriptor (the kvm_run area of a vCPU).</summary>
    public static MappedMemory Shared(FileDescriptor fd, nuint length)
    {
        nint address = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE,
            LibcConstants.MAP_SHARED, fd, 0);
        if (address == -1)
            throw new NativeException("mmap of a file descriptor", Marshal.GetLastPInvokeError());
        return new MappedMemory(address, length);
    }

    protected override bool ReleaseHandle() => LibcImports.Munmap(handle, Length) == 0;
}
