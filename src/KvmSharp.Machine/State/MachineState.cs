using KvmSharp.Devices.Firmware;
using KvmSharp.Accelerators;
using KvmSharp.Devices.Acpi;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.State;

/// <summary>
/// A whole paused machine except its RAM (which goes to a memory file of its own): what it is (its config and
/// accelerator), and the state of every part, each saved through <see cref="KvmSharp.State.IStateful{T}"/>.
/// Written as JSON inside a <see cref="KvmSharp.State.StateFile"/> envelope (magic, version, length, SHA-256).
/// </summary>
public sealed record MachineState
{
    /// <summary>The machine as it was defined; a restore builds the same machine from it.</summary>
    public required MachineConfig Config { get; init; }

    /// <summary>"kvm" or "emulate": a state restores only on the accelerator that saved it.</summary>
    public required string Accelerator { get; init; }

    /// <summary>Guest RAM in bytes; the memory file holds exactly this much.</summary>
    public required ulong MemorySize { get; init; }

    public required VmState Vm { get; init; }

    /// <summary>One per vCPU, in index order.</summary>
    public required VcpuState[] Vcpus { get; init; }

    public required PlatformState Platform { get; init; }

    public required PciState Pci { get; init; }
}

/// <summary>The PC devices on the port bus.</summary>
public sealed record PlatformState
{
    /// <summary>COM1 to COM4.</summary>
    public required Serial16550State[] SerialPorts { get; init; }
    public required I8042State Keyboard { get; init; }
    public required CmosRtcState Rtc { get; init; }
    public required AcpiPmState PowerManagement { get; init; }
    public required ResetControlState ResetControl { get; init; }
    /// <summary>fw_cfg, when firmware boots the machine; null otherwise.</summary>
    public FwCfgState? FirmwareConfig { get; init; }
    /// <summary>UEFI's variable flash (contents and command state), when OVMF boots the machine; null otherwise.</summary>
    public CfiFlashState? FirmwareVariables { get; init; }
}

/// <summary>PCI bus 0: configuration spaces, CONFIG_ADDRESS, and each virtio device in its slot.</summary>
public sealed record PciState
{
    public required PciBusState Bus { get; init; }
    public required PciConfigAddressState ConfigAddress { get; init; }
    public required VirtioSlotState[] Virtio { get; init; }
}

/// <summary>One virtio device: its slot, its transport (with every queue), and the device's own state where it has one.</summary>
public sealed record VirtioSlotState
{
    public required int Slot { get; init; }
    public required VirtioPciState Transport { get; init; }
    public VirtioBlockState? Block { get; init; }
    public VirtioNetState? Net { get; init; }
    public VirtioBalloonState? Balloon { get; init; }
    public VirtioConsoleState? Console { get; init; }
    public VirtioVsockState? Vsock { get; init; }
    public VirtioFsState? Fs { get; init; }
}
