using System.Runtime.InteropServices;
using KvmSharp.Memory;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// A KVM VM: guest RAM registered as memory slots, the in-kernel interrupt controllers (PIC, IOAPIC,
/// LAPICs) and PIT, and the vCPUs created on it.
/// </summary>
public sealed unsafe partial class KvmVirtualMachine : IVirtualMachine
{
    private readonly KvmSystem _system;
    private readonly FileDescriptor _fd;
    private readonly int _vcpuCount;
    private readonly KvmCpuidEntry2[] _supportedCpuid;
    private readonly int _runMmapSize;

    internal KvmVirtualMachine(KvmSystem system, GuestMemory memory, VirtualMachineOptions options, Action<string> notice)
    {
        int vcpuCount = options.VcpuCount;
        _system = system;
        _vcpuCount = vcpuCount;
        Memory = memory;
        int maxVcpus = Math.Max(system.CheckExtension(KvmCapability.MaxVcpus), system.CheckExtension(KvmCapability.NrVcpus));
        if (vcpuCount < 1 || (maxVcpus > 0 && vcpuCount > maxVcpus))
            throw new AcceleratorException($"this host's KVM supports 1 to {maxVcpus} vCPUs, not {vcpuCount}");
        foreach (int cap in (ReadOnlySpan<int>)[KvmCapability.Irqchip, KvmCapability.UserMemory, KvmCapability.SetTssAddr,
                     KvmCapability.Pit2, KvmCapability.ImmediateExit, KvmCapability.ExtCpuid])
            if (system.CheckExtension(cap) == 0)
                throw new AcceleratorException($"this host's KVM lacks capability {cap}, which KvmSharp needs; use --accel emulate");

        _supportedCpuid = system.GetSupportedCpuid();
        _runMmapSize = system.VcpuMmapSize;
        _fd = system.CreateVmDescriptor();
        try
        {
            // Intel VMX needs three pages for the real-mode TSS and one for the identity-map page table,
            // both in guest-physical space that is not RAM (Documentation/virt/kvm/api.rst, KVM_SET_TSS_ADDR).
            Check(LibcImports.Ioctl(_fd, KvmIoctls.SetTssAddr, (nuint)MemoryMap.KvmTss), "KVM_SET_TSS_ADDR");
            ulong identity = MemoryMap.KvmIdentityMap;
            Check(LibcImports.Ioctl(_fd, KvmIoctls.SetIdentityMapAddr, &identity), "KVM_SET_IDENTITY_MAP_ADDR");
            Check(LibcImports.Ioctl(_fd, KvmIoctls.CreateIrqchip, 0), "KVM_CREATE_IRQCHIP");
            if (options.LegacyTimer)
            {
                var pit = new KvmPitConfig { Flags = KvmPitConfig.SpeakerDummy };
                Check(LibcImports.Ioctl(_fd, KvmIoctls.CreatePit2, &pit), "KVM_CREATE_PIT2");
            }
            _hasPit = options.LegacyTimer;
            RegisterMemory(memory, flags: 0);
            RegisterFirmware(memory);
            (XsaveSize, HasXcrs, HasTscKhz) = ProbeStateCapabilities(system);
            _msiRoutes = CreateMsiRoutes(notice);
            _ioEventsSupported = ProbeIoEvents(notice);
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
    }

    public GuestMemory Memory { get; }

    public int VcpuCount => _vcpuCount;

    /// <summary>One slot per region, slot i = region i (the dirty log relies on it); <paramref name="flags"/> are KVM_MEM_*.</summary>
    private void RegisterMemory(GuestMemory memory, uint flags)
    {
        for (int slot = 0; slot < memory.Regions.Count; slot++)
        {
            var region = memory.Regions[slot];
            var slotInfo = new KvmUserspaceMemoryRegion
            {
                Slot = (uint)slot,
                Flags = flags,
                GuestPhysAddr = region.Start.Value,
                MemorySize = region.Size,
                UserspaceAddr = (ulong)region.HostAddress,
            };
            Check(LibcImports.Ioctl(_fd, KvmIoctls.SetUserMemoryRegion, &slotInfo), "KVM_SET_USER_MEMORY_REGION");
        }
    }

    /// <summary>
    /// The firmware flash in the slot after RAM's, read-only where KVM offers it (a write then exits as MMIO, which
    /// nothing claims, as a write to a ROM goes nowhere); writable otherwise, which only the guest itself can notice.
    /// </summary>
    private void RegisterFirmware(GuestMemory memory)
    {
        if (memory.Firmware is not { } flash) return;
        var slotInfo = new KvmUserspaceMemoryRegion
        {
            Slot = (uint)memory.Regions.Count,
            Flags = KvmMemoryFlags.ReadOnly,
            GuestPhysAddr = flash.Start.Value,
            MemorySize = flash.Size,
            UserspaceAddr = (ulong)flash.HostAddress,
        };
        if (LibcImports.Ioctl(_fd, KvmIoctls.SetUserMemoryRegion, &slotInfo) == 0) return;
        slotInfo.Flags = 0;
        Check(LibcImports.Ioctl(_fd, KvmIoctls.SetUserMemoryRegion, &slotInfo), "KVM_SET_USER_MEMORY_REGION (firmware)");
    }

    public IVcpu CreateVcpu(int index)
    {
        if (index < 0 || index >= _vcpuCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"vCPU index must be 0..{_vcpuCount - 1}");
        int fd = LibcImports.Ioctl(_fd, KvmIoctls.CreateVcpu, (nuint)index);
        if (fd < 0) throw new NativeException($"KVM_CREATE_VCPU {index}", Marshal.GetLastPInvokeError());
        var vcpuFd = new FileDescriptor(fd);
        try
        {
            var vcpu = new KvmVcpu(this, vcpuFd, index, _runMmapSize);
            vcpu.SetCpuid(KvmCpuidModel.ForVcpu(_supportedCpuid, index, _vcpuCount));
            vcpu.SetMsrs(KvmBootMsrs.Indices, KvmBootMsrs.Values);
            return vcpu;
        }
        catch
        {
            vcpuFd.Dispose();
            throw;
        }
    }

    public void SetInterruptLine(uint gsi, bool high)
    {
        var level = new KvmIrqLevel { Irq = gsi, Level = high ? 1u : 0u };
        if (LibcImports.Ioctl(_fd, KvmIoctls.IrqLine, &level) < 0)
            ThrowIrqLine(gsi);
    }

    public void SignalMsi(ulong address, uint data)
    {
        if (_msiRoutes is not null && _msiRoutes.TrySignal(address, data)) return;
        var msi = new KvmMsi { AddressLow = (uint)address, AddressHigh = (uint)(address >> 32), Data = data };
        // KVM_SIGNAL_MSI returns >0 delivered, 0 blocked by the guest (masked APIC, no target): both are fine.
        if (LibcImports.Ioctl(_fd, KvmIoctls.SignalMsi, &msi) < 0)
            throw new NativeException("KVM_SIGNAL_MSI", Marshal.GetLastPInvokeError());
    }

    private static void ThrowIrqLine(uint gsi) => throw new NativeException($"KVM_IRQ_LINE {gsi}", Marshal.GetLastPInvokeError());

    internal static void Check(int rc, string operation)
    {
        if (rc < 0) throw new NativeException(operation, Marshal.GetLastPInvokeError());
    }

    public void Dispose()
    {
        // irqfds and ioeventfds go before the VM descriptor: deassigning needs it.
        _msiRoutes?.Dispose();
        RemoveAllIoEventNotifiers();
        _fd.Dispose();
        _system.Dispose();
    }
}
