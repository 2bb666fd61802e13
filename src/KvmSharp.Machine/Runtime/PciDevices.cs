using KvmSharp.Accelerators;
using KvmSharp.Boot.Acpi;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// PCI bus 0 of a machine: the host bridge in slot 0, configuration access through ports 0xCF8/0xCFC
/// (sharing 0xCF9 with the reset control register) and ECAM at <see cref="MemoryMap.PciEcamStart"/>, and
/// each virtio device as function 0 of the slot its config gives it. It plays firmware for the BARs: each
/// device's BAR 0 is placed in the 32-bit PCI window and decoding is turned on before the guest runs,
/// as a BIOS would, so the OS finds the devices ready and only claims what is there. The guest learns
/// the rest from ACPI: MCFG, and the host bridge's _CRS and _PRT in the DSDT.
/// </summary>
internal sealed class PciDevices : IDisposable
{
    /// <summary>The window BARs are placed in; the ECAM region follows it (see <see cref="MemoryMap"/>).</summary>
    private static readonly PciWindow Mmio32 = new(MemoryMap.PciMmio32Start, MemoryMap.PciMmio32End - MemoryMap.PciMmio32Start);

    /// <summary>The window firmware places BARs in (see <see cref="MemoryMap.PciMmio32HighStart"/>).</summary>
    private static readonly PciWindow Mmio32High = new(MemoryMap.PciMmio32HighStart, MemoryMap.PciMmio32HighEnd - MemoryMap.PciMmio32HighStart);

    /// <summary>I/O ports a BAR may use: above the legacy ISA devices.</summary>
    private static readonly PciWindow IoWindow = new(0x1000, 0xF000);

    private readonly PciBus _bus;
    private readonly PciLegacyConfigAccess _legacy;
    private readonly List<VirtioPciDevice> _virtio = [];
    private readonly HashSet<int> _slots = [];
    private readonly List<(int Slot, VirtioPciDevice Transport)> _placed = [];
    private ulong _nextMmio = Mmio32.Start;
    private readonly bool _firmwarePlacesBars;

    /// <param name="firmwarePlacesBars">Firmware boots the machine and places the BARs itself.</param>
    /// <param name="i440Fx">
    /// Show OVMF the i440FX it knows (see <see cref="PciHostBridge.I440Fx"/>): that host bridge, and slot 1 taken by the
    /// PIIX3 ISA bridge and the PIIX4 power-management function, as on QEMU's pc machine.
    /// </param>
    /// <param name="ramSize">The guest's RAM: firmware's 64-bit BAR window starts after it.</param>
    public PciDevices(IoBus ports, IoBus mmio, IBusDevice resetControl, bool firmwarePlacesBars, ulong ramSize, bool i440Fx = false)
    {
        _firmwarePlacesBars = firmwarePlacesBars;
        // Firmware may put 64-bit BARs above 4 GiB (OVMF always does, in an aperture it chooses): a window from the end
        // of RAM to the top of the address space takes whatever it chose, and _CRS tells the OS the same.
        ulong mmio64 = MemoryMap.PciMmio64Start(ramSize);
        PciWindow[] windows = firmwarePlacesBars ? [Mmio32, Mmio32High, new PciWindow(mmio64, MemoryMap.PciMmio64End - mmio64)] : [Mmio32, Mmio32High];
        _bus = new PciBus(mmio, ports, windows, IoWindow);
        _bus.Attach(0, 0, i440Fx ? PciHostBridge.I440Fx() : PciHostBridge.Generic());
        if (i440Fx)
        {
            _bus.Attach(Piix3IsaBridge.Slot, Piix3IsaBridge.Function, new Piix3IsaBridge());
            _bus.Attach(Piix4PowerManagement.Slot, Piix4PowerManagement.Function, new Piix4PowerManagement(MemoryMap.AcpiPmIoBase));
            _slots.Add(Piix3IsaBridge.Slot);
        }
        var legacy = _legacy = new PciLegacyConfigAccess(_bus, resetControl);
        ports.Register(PciLegacyConfigAccess.AddressPortBase, 4, legacy.AddressPort);
        ports.Register(PciLegacyConfigAccess.DataPortBase, 4, legacy.DataPort);
        var ecam = new PciEcam(_bus, busCount: 1);
        mmio.Register(MemoryMap.PciEcamStart, ecam.Length, ecam);
        AcpiDevices = [new PciHostBridgeAml(windows)];
        AcpiTables = [Mcfg.Build(MemoryMap.PciEcamStart, 0, 0)];
    }

    public IReadOnlyList<IAcpiDevice> AcpiDevices { get; }

    /// <summary>Tables besides the DSDT's: the MCFG.</summary>
    public IReadOnlyList<byte[]> AcpiTables { get; }

    /// <summary>The lowest slot no device sits in yet, or null when the bus is full.</summary>
    public int? FreeSlot()
    {
        for (int slot = 1; slot < PciBus.Slots; slot++)
            if (!_slots.Contains(slot)) return slot;
        return null;
    }

    /// <summary>
    /// Puts <paramref name="device"/> in <paramref name="slot"/> behind a virtio-pci transport; the transport owns it
    /// from here (and disposes it with the machine). The slot is the device's for good: its interrupt pin's GSI and
    /// the guest's name for it (00:SS.0) follow from it.
    /// </summary>
    public VirtioPciDevice AddVirtio(IVirtioDevice device, int slot, IVirtualMachine vm, GuestMemory memory, string kind, Action<string> notice)
    {
        if (slot < 1 || slot >= PciBus.Slots || _slots.Contains(slot))
        {
            device.Dispose();
            throw new Config.MachineConfigException(slot is >= 1 and < PciBus.Slots
                ? $"{kind}: PCI slot {slot} is taken"
                : $"{kind}: PCI slot {slot} is not one of 1 to {PciBus.Slots - 1} (bus 0 has {PciBus.Slots - 1} slots for devices)");
        }
        var transport = new VirtioPciDevice(device, memory, new VmMsiSink(vm), new GsiInterruptLine(vm, PciInterruptRouting.Gsi(slot, 0)),
                                            $"{kind} 00:{slot:x2}.0", notice);
        transport.UseDoorbellRouter(new VmDoorbellRouter(vm));
        _virtio.Add(transport);
        _slots.Add(slot);
        _placed.Add((slot, transport));
        _bus.Attach(slot, 0, transport);
        if (!_firmwarePlacesBars) PlaceBars(slot, transport.Config);
        return transport;
    }

    /// <summary>Firmware's work (PCI Firmware spec 3.2 §2.2): naturally aligned BARs in the window, memory decoding on.</summary>
    private void PlaceBars(int slot, PciConfigSpace config)
    {
        for (int bar = 0; bar < 6; bar++)
        {
            if (config.GetBar(bar) is not { IsMemory: true } shape) continue;
            ulong at = (_nextMmio + shape.Size - 1) & ~(shape.Size - 1);
            if (!Mmio32.Contains(at, shape.Size))
                throw new Config.MachineConfigException($"PCI devices need more than the {Mmio32.Length >> 20} MiB PCI window");
            _nextMmio = at + shape.Size;
            WriteConfig32(slot, PciConfigSpace.BarOffset + 4 * bar, (uint)at);
            if (shape.Kind == PciBarKind.Memory64) WriteConfig32(slot, PciConfigSpace.BarOffset + 4 * bar + 4, (uint)(at >> 32));
        }
        _bus.WriteConfig(0, slot, 0, PciConfigSpace.InterruptLineOffset, [(byte)PciInterruptRouting.Gsi(slot, 0)]);
        WriteConfig32(slot, PciConfigSpace.CommandOffset, PciConfigSpace.CommandMemorySpace);
    }

    private void WriteConfig32(int slot, int offset, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        _bus.WriteConfig(0, slot, 0, offset, bytes);
    }

    /// <summary>Bus 0 (every function's configuration space and where its BARs decode).</summary>
    public PciBus Bus => _bus;

    /// <summary>The CONFIG_ADDRESS register at 0xCF8.</summary>
    public PciLegacyConfigAccess LegacyConfigAccess => _legacy;

    /// <summary>Each virtio transport with the slot it sits in.</summary>
    public IReadOnlyList<(int Slot, VirtioPciDevice Transport)> VirtioSlots => _placed;

    /// <summary>The virtio devices of type <typeparamref name="T"/>, in the order they were added.</summary>
    public IEnumerable<T> Devices<T>() where T : class, IVirtioDevice => _virtio.Select(t => t.Device).OfType<T>();

    public void Dispose()
    {
        foreach (var device in _virtio) device.Dispose();
    }

    private sealed class VmMsiSink(IVirtualMachine vm) : IMsiSink
    {
        public void Deliver(ulong address, uint data) => vm.SignalMsi(address, data);
    }

    private sealed class VmDoorbellRouter(IVirtualMachine vm) : IDoorbellRouter
    {
        public bool TryAttach(ulong address, int length, EventNotifier notifier) => vm.TryAddIoEventNotifier(address, length, notifier);
        public void Detach(ulong address, int length, EventNotifier notifier) => vm.RemoveIoEventNotifier(address, length, notifier);
    }
}
