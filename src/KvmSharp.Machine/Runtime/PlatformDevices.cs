using KvmSharp.Accelerators;
using KvmSharp.Boot.Acpi;
using KvmSharp.Devices;
using KvmSharp.Devices.Acpi;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Legacy;
using KvmSharp.Machine.Config;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// The PC platform devices every machine has, on their standard ports and ISA IRQs: COM1–COM4, the
/// i8042 keyboard controller, the CMOS RTC, the ACPI PM block and reset register, and the
/// isa-debug-exit device when the config asks for one. The PIT and PICs live in the accelerator.
/// </summary>
internal sealed class PlatformDevices
{
    /// <summary>Ports the isa-debug-exit device decodes: a 1-, 2- or 4-byte write at its base.</summary>
    private const ushort DebugExitWidth = 4;

    /// <param name="otherSerialOutputs">Where COM2–COM4 transmit, by port number; a port not named discards its output.</param>
    public PlatformDevices(IVirtualMachine vm, IoBus ports, IMachineControl control, MachineConfig config, ISerialOutput com1Output,
                           IReadOnlyDictionary<int, ISerialOutput> otherSerialOutputs)
    {
        var acpiDevices = new List<IAcpiDevice>();
        var discard = new DiscardingSerialOutput();
        Serial16550? com1 = null;
        var serialPorts = new List<Serial16550>();
        foreach (var port in Serial16550.ComPorts)
        {
            var serial = new Serial16550(port, new GsiInterruptLine(vm, port.Irq), port.Number == 1 ? com1Output : otherSerialOutputs.GetValueOrDefault(port.Number, discard));
            ports.Register(port.PortBase, Serial16550.RegisterCount, serial);
            acpiDevices.Add(serial);
            serialPorts.Add(serial);
            com1 ??= serial;
        }
        Com1 = com1!;
        SerialPorts = serialPorts;

        var i8042 = new I8042Controller(new GsiInterruptLine(vm, I8042Controller.KeyboardIrq), new GsiInterruptLine(vm, I8042Controller.AuxIrq), control);
        ports.Register(I8042Controller.DataPortAddress, 1, i8042.DataPort);
        ports.Register(I8042Controller.CommandPortAddress, 1, i8042.CommandPort);
        acpiDevices.Add(i8042);
        Keyboard = i8042;

        ulong below4G = Math.Min(config.MemorySize, MemoryMap.PciHoleStart);
        var time = vm.GuestTime ?? TimeProvider.System;   // guest time where the accelerator counts it (--icount)
        var rtc = Rtc = new CmosRtc(below4G, config.MemorySize - below4G, config.VcpuCount, time.GetUtcNow);
        ports.Register(CmosRtc.PortBase, CmosRtc.PortCount, rtc);
        acpiDevices.Add(rtc);

        var pm = new AcpiPowerManagement(control, new GsiInterruptLine(vm, AcpiPlatform.DefaultSciIrq), time);
        ports.Register(MemoryMap.AcpiPmIoBase, AcpiPmLayout.BlockLength, pm);
        acpiDevices.Add(pm);
        PowerManagement = pm;
        // 0xCF9 lies inside PCI's CONFIG_ADDRESS (0xCF8-0xCFB): the PCI decoder forwards byte accesses here.
        ResetControl = new ResetControlRegister(control);

        if (config.DebugExitPort is { } debugPort)
            ports.Register(debugPort, DebugExitWidth, new IsaDebugExit(control));

        AcpiDevices = acpiDevices;
    }

    /// <summary>COM1 to COM4, in order.</summary>
    public IReadOnlyList<Serial16550> SerialPorts { get; }

    public CmosRtc Rtc { get; }

    /// <summary>The first serial port: the guest console.</summary>
    public Serial16550 Com1 { get; }

    public I8042Controller Keyboard { get; }

    public AcpiPowerManagement PowerManagement { get; }

    /// <summary>The reset control register at 0xCF9; <see cref="PciDevices"/> decodes its port.</summary>
    public ResetControlRegister ResetControl { get; }

    /// <summary>The devices the DSDT describes, in the order they are declared.</summary>
    public IReadOnlyList<IAcpiDevice> AcpiDevices { get; }

    private sealed class DiscardingSerialOutput : ISerialOutput
    {
        public void Write(ReadOnlySpan<byte> bytes) { }
    }
}
