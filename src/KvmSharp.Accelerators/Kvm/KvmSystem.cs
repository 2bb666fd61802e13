using System.Runtime.InteropServices;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>The open /dev/kvm: API version, capabilities, supported CPUID, VM creation.</summary>
public sealed unsafe class KvmSystem : IDisposable
{
    public const string DevicePath = "/dev/kvm";

    /// <summary>KVM_API_VERSION: the only stable API version there has ever been.</summary>
    private const int ExpectedApiVersion = 12;

    private readonly FileDescriptor _fd;

    private KvmSystem(FileDescriptor fd) => _fd = fd;

    internal FileDescriptor Handle => _fd;

    /// <summary>Opens /dev/kvm, or throws <see cref="AcceleratorException"/> with what the user can do about it.</summary>
    public static KvmSystem Open(string path = DevicePath)
    {
        int fd = LibcImports.Open(path, LibcConstants.O_RDWR | LibcConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new AcceleratorException(errno switch
            {
                LibcConstants.ENOENT => $"{path} does not exist: load the kvm module (kvm_intel or kvm_amd) or use --accel emulate",
                LibcConstants.EACCES or LibcConstants.EPERM => $"no permission to open {path}: add your user to the 'kvm' group or use --accel emulate",
                _ => $"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}; use --accel emulate",
            });
        }
        var system = new KvmSystem(new FileDescriptor(fd));
        int version = LibcImports.Ioctl(system.Handle, KvmIoctls.GetApiVersion, 0);
        if (version != ExpectedApiVersion)
        {
            system.Dispose();
            throw new AcceleratorException($"{path} speaks KVM API {version}, not {ExpectedApiVersion}; use --accel emulate");
        }
        return system;
    }

    public int ApiVersion => LibcImports.Ioctl(_fd, KvmIoctls.GetApiVersion, 0);

    /// <summary>KVM_CHECK_EXTENSION: 0 when absent, otherwise a capability-specific positive value.</summary>
    public int CheckExtension(int capability) => Math.Max(0, LibcImports.Ioctl(_fd, KvmIoctls.CheckExtension, (nuint)capability));

    public int VcpuMmapSize
    {
        get
        {
            int size = LibcImports.Ioctl(_fd, KvmIoctls.GetVcpuMmapSize, 0);
            if (size <= 0) throw new NativeException("KVM_GET_VCPU_MMAP_SIZE", Marshal.GetLastPInvokeError());
            return size;
        }
    }

    /// <summary>The CPUID entries KVM can present to a guest on this host (KVM_GET_SUPPORTED_CPUID).</summary>
    public KvmCpuidEntry2[] GetSupportedCpuid()
    {
        // The kernel says E2BIG while the buffer is too small; grow until it fits.
        for (int capacity = 128; capacity <= 4096; capacity *= 2)
        {
            int bytes = sizeof(KvmCpuid2Header) + capacity * sizeof(KvmCpuidEntry2);
            byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                ((KvmCpuid2Header*)buffer)->EntryCount = (uint)capacity;
                if (LibcImports.Ioctl(_fd, KvmIoctls.GetSupportedCpuid, buffer) == 0)
                {
                    int count = (int)((KvmCpuid2Header*)buffer)->EntryCount;
                    return new ReadOnlySpan<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2Header), count).ToArray();
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno != 7 /* E2BIG */) throw new NativeException("KVM_GET_SUPPORTED_CPUID", errno);
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new AcceleratorException("KVM_GET_SUPPORTED_CPUID returned more than 4096 entries");
    }

    /// <summary>
    /// KVM_GET_MSR_INDEX_LIST: the MSRs KVM can save and load for a vCPU (the host's msrs_to_save and the ones
    /// KVM emulates). The kernel answers E2BIG with the count it needs; ask again with that much room.
    /// </summary>
    public uint[] GetMsrIndexList()
    {
        uint capacity = 256;
        for (int attempt = 0; attempt < 8; attempt++)
        {
            byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)(4 + capacity * 4));
            try
            {
                *(uint*)buffer = capacity;
                if (LibcImports.Ioctl(_fd, KvmIoctls.GetMsrIndexList, buffer) == 0)
                {
                    uint count = Math.Min(*(uint*)buffer, capacity);
                    return new ReadOnlySpan<uint>(buffer + 4, (int)count).ToArray();
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno != LibcConstants.E2BIG) throw new NativeException("KVM_GET_MSR_INDEX_LIST", errno);
                capacity = Math.Max(capacity * 2, *(uint*)buffer);
                if (capacity > 65536) break;
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new AcceleratorException("KVM_GET_MSR_INDEX_LIST kept asking for more room");
    }

    internal FileDescriptor CreateVmDescriptor()
    {
        int fd = LibcImports.Ioctl(_fd, KvmIoctls.CreateVm, 0);
        if (fd < 0) throw new NativeException("KVM_CREATE_VM", Marshal.GetLastPInvokeError());
        return new FileDescriptor(fd);
    }

    public void Dispose() => _fd.Dispose();
}
