using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// Memory for generated machine code: one mapping both writable and executable where the host allows it
/// (PROT_READ|WRITE|EXEC, private and anonymous), else — on hosts that refuse writable executable pages
/// (SELinux execmem, PaX MPROTECT) — one memfd mapped twice, a read-write view to write the code through and a
/// read-execute view to run it. Owns both views and unmaps them exactly once.
/// </summary>
public sealed class ExecutableMemory : SafeHandle
{
    private readonly nint _executeView;

    private ExecutableMemory(nint writeView, nint executeView, nuint length) : base(invalidHandleValue: -1, ownsHandle: true)
    {
        SetHandle(writeView);
        _executeView = executeView;
        Length = length;
    }

    public nuint Length { get; }

    /// <summary>Where code is written.</summary>
    public nint WriteAddress => handle;

    /// <summary>Where the same bytes run (equal to <see cref="WriteAddress"/> for a single RWX mapping).</summary>
    public nint ExecuteAddress => _executeView;

    /// <summary>True when the code is written through a second, read-write view of the same memory.</summary>
    public bool DualMapped => _executeView != handle;

    public override bool IsInvalid => handle == -1 || handle == 0;

    /// <summary>Maps <paramref name="length"/> bytes (a multiple of the page size); throws <see cref="NativeException"/> when the host allows neither form.</summary>
    public static ExecutableMemory Create(nuint length, bool allowWritableExecutable = true)
    {
        if (allowWritableExecutable)
        {
            nint single = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE | LibcConstants.PROT_EXEC,
                LibcConstants.MAP_PRIVATE | LibcConstants.MAP_ANONYMOUS | LibcConstants.MAP_NORESERVE, -1, 0);
            if (single != -1) return new ExecutableMemory(single, single, length);
        }
        int number = LibcImports.MemfdCreate("kvmsharp-code", LibcConstants.MFD_CLOEXEC);
        if (number < 0) throw new NativeException("memfd_create for generated code", Marshal.GetLastPInvokeError());
        using (var fd = new FileDescriptor(number))   // closed at the end: the mappings keep the memory
        {
            if (LibcImports.Ftruncate(fd, (long)length) != 0)
                throw new NativeException("ftruncate of the code memfd", Marshal.GetLastPInvokeError());
            nint write = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE, LibcConstants.MAP_SHARED, fd, 0);
            if (write == -1) throw new NativeException("mmap of the code memfd (read-write)", Marshal.GetLastPInvokeError());
            nint execute = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_EXEC, LibcConstants.MAP_SHARED, fd, 0);
            if (execute == -1)
            {
                int errno = Marshal.GetLastPInvokeError();
                LibcImports.Munmap(write, length);
                throw new NativeException("mmap of the code memfd (read-execute)", errno);
            }
            return new ExecutableMemory(write, execute, length);
        }
    }

    protected override bool ReleaseHandle()
    {
        bool ok = true;
        if (_executeView != handle) ok = LibcImports.Munmap(_executeView, Length) == 0;
        return LibcImports.Munmap(handle, Length) == 0 && ok;
    }
}
