namespace KvmSharp.Native.Kvm;

/// <summary>
/// ioctl request numbers from linux/kvm.h, computed with the kernel's _IO/_IOR/_IOW/_IOWR encoding
/// (include/uapi/asm-generic/ioctl.h): dir(2 bits) | size(14) | type(8) | nr(8).
/// The test suite compiles a C program against the host's kvm.h and compares every value.
/// </summary>
public static class KvmIoctls
{
    private const uint KvmIo = 0xAE;
    private const uint None = 0, Write = 1, Read = 2;

    private static nuint Io(uint nr) => Encode(None, nr, 0);
    private static nuint Ior(uint nr, uint size) => Encode(Read, nr, size);
    private static nuint Iow(uint nr, uint size) => Encode(Write, nr, size);
    private static nuint Iowr(uint nr, uint size) => Encode(Read | Write, nr, size);
    private static nuint Encode(uint dir, uint nr, uint size) => (nuint)((dir << 30) | (size << 16) | (KvmIo << 8) | nr);

    // System ioctls (on /dev/kvm)
    public static readonly nuint GetApiVersion = Io(0x00);
    public static readonly nuint CreateVm = Io(0x01);
    public static readonly nuint GetMsrIndexList = Iowr(0x02, 4);
    public static readonly nuint CheckExtension = Io(0x03);
    public static readonly nuint GetVcpuMmapSize = Io(0x04);
    public static readonly nuint GetSupportedCpuid = Iowr(0x05, 8);
    public static readonly nuint GetTscKhz = Io(0xA3);

    // VM ioctls
    public static readonly nuint CreateVcpu = Io(0x41);
    public static readonly nuint GetDirtyLog = Iow(0x42, 16);
    public static readonly nuint SetUserMemoryRegion = Iow(0x46, 32);
    public static readonly nuint SetTssAddr = Io(0x47);
    public static readonly nuint SetIdentityMapAddr = Iow(0x48, 8);
    public static readonly nuint CreateIrqchip = Io(0x60);
    public static readonly nuint GetIrqchip = Iowr(0x62, 520);
    /// <summary>KVM_SET_IRQCHIP is _IOR in linux/kvm.h (a historical slip the ABI keeps).</summary>
    public static readonly nuint SetIrqchip = Ior(0x63, 520);
    public static readonly nuint IrqLine = Iow(0x61, 8);
    public static readonly nuint SetGsiRouting = Iow(0x6A, 8);
    public static readonly nuint Irqfd = Iow(0x76, 32);
    public static readonly nuint CreatePit2 = Iow(0x77, 64);
    public static readonly nuint SetClock = Iow(0x7B, 48);
    public static readonly nuint GetClock = Ior(0x7C, 48);
    public static readonly nuint GetPit2 = Ior(0x9F, 112);
    public static readonly nuint SetPit2 = Iow(0xA0, 112);
    public static readonly nuint Ioeventfd = Iow(0x79, 64);
    public static readonly nuint EnableCap = Iow(0xA3, 104);
    public static readonly nuint SignalMsi = Iow(0xA5, 32);

    // vCPU ioctls
    public static readonly nuint Run = Io(0x80);
    public static readonly nuint GetRegs = Ior(0x81, 144);
    public static readonly nuint SetRegs = Iow(0x82, 144);
    public static readonly nuint GetSregs = Ior(0x83, 312);
    public static readonly nuint SetSregs = Iow(0x84, 312);
    public static readonly nuint Translate = Iowr(0x85, 24);
    public static readonly nuint GetMsrs = Iowr(0x88, 8);
    public static readonly nuint SetMsrs = Iow(0x89, 8);
    public static readonly nuint SetSignalMask = Iow(0x8B, 4);
    public static readonly nuint GetFpu = Ior(0x8C, 416);
    public static readonly nuint SetFpu = Iow(0x8D, 416);
    public static readonly nuint SetCpuid2 = Iow(0x90, 8);
    public static readonly nuint GetMpState = Ior(0x98, 4);
    public static readonly nuint SetMpState = Iow(0x99, 4);
    public static readonly nuint GetLapic = Ior(0x8E, 1024);
    public static readonly nuint SetLapic = Iow(0x8F, 1024);
    public static readonly nuint GetVcpuEvents = Ior(0x9F, 64);
    public static readonly nuint SetVcpuEvents = Iow(0xA0, 64);
    public static readonly nuint SetTscKhz = Io(0xA2);
    public static readonly nuint GetXsave = Ior(0xA4, 4096);
    public static readonly nuint SetXsave = Iow(0xA5, 4096);
    public static readonly nuint GetXcrs = Ior(0xA6, 392);
    public static readonly nuint SetXcrs = Iow(0xA7, 392);
    public static readonly nuint KvmclockCtrl = Io(0xAD);
    /// <summary>KVM_GET_XSAVE2: as KVM_GET_XSAVE, but fills KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes (at least 4096).</summary>
    public static readonly nuint GetXsave2 = Ior(0xCF, 4096);
}

/// <summary>KVM_CAP_* numbers used by the VMM (linux/kvm.h).</summary>
public static class KvmCapability
{
    public const int Irqchip = 0;
    public const int UserMemory = 3;
    public const int SetTssAddr = 4;
    public const int ExtCpuid = 7;
    public const int Pit2 = 33;
    public const int SetIdentityMapAddr = 37;
    public const int ImmediateExit = 136;
    public const int NrVcpus = 9;
    /// <summary>KVM_CAP_IRQ_ROUTING: KVM_CHECK_EXTENSION answers the number of GSIs a routing table may use.</summary>
    public const int IrqRouting = 25;
    public const int Irqfd = 32;
    public const int Ioeventfd = 36;
    public const int SignalMsi = 77;
    public const int MaxVcpus = 66;
    public const int PitState2 = 35;
    public const int AdjustClock = 39;
    public const int VcpuEvents = 41;
    public const int Xsave = 55;
    public const int Xcrs = 56;
    public const int TscControl = 60;
    public const int GetTscKhz = 61;
    public const int KvmclockCtrl = 76;
    /// <summary>KVM_CAP_XSAVE2: KVM_CHECK_EXTENSION on the VM answers the size of the XSAVE area in bytes.</summary>
    public const int Xsave2 = 208;
}

/// <summary>KVM_EXIT_* reasons (linux/kvm.h).</summary>
public static class KvmExitReason
{
    public const uint Unknown = 0, Exception = 1, Io = 2, Hypercall = 3, Debug = 4, Hlt = 5, Mmio = 6,
        IrqWindowOpen = 7, Shutdown = 8, FailEntry = 9, Intr = 10, SetTpr = 11, TprAccess = 12,
        Nmi = 16, InternalError = 17, SystemEvent = 24;

    public const byte IoIn = 0, IoOut = 1;

    public const uint InternalErrorEmulation = 1;
    public const uint SystemEventShutdown = 1, SystemEventReset = 2, SystemEventCrash = 3;
}
