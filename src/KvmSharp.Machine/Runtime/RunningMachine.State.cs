using KvmSharp.Accelerators;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.State;
using KvmSharp.State;

namespace KvmSharp.Machine.Runtime;

// Saving a paused machine's state and loading one into a machine built from the same config.
public sealed partial class RunningMachine
{
    /// <summary>The config this machine was built from (normalized: ids and slots filled in).</summary>
    public MachineConfig Config { get; internal init; } = new();

    /// <summary>fw_cfg, when firmware boots this machine.</summary>
    internal Devices.Firmware.FwCfg? FirmwareConfig { get; init; }

    /// <summary>UEFI's variable flash, when OVMF boots this machine.</summary>
    internal Devices.Firmware.CfiFlash? FirmwareVariables { get; init; }

    /// <summary>
    /// The state of every part of this paused machine except its RAM (see <see cref="Memory"/>). vCPU states are
    /// taken on each vCPU's own thread.
    /// </summary>
    public MachineState SaveState()
    {
        if (!IsPaused) throw new InvalidOperationException("the machine must be paused to save its state");
        var vcpus = new VcpuState[_runners.Length];
        ForEachVcpu(v => vcpus[v.Index] = v.SaveState());
        return new MachineState
        {
            Config = Config,
            Accelerator = AcceleratorName,
            MemorySize = _memory.Size,
            Vm = _vm.SaveState(),
            Vcpus = vcpus,
            Platform = new PlatformState
            {
                SerialPorts = [.. Platform.SerialPorts.Select(s => s.SaveState())],
                Keyboard = Platform.Keyboard.SaveState(),
                Rtc = Platform.Rtc.SaveState(),
                PowerManagement = Platform.PowerManagement.SaveState(),
                ResetControl = Platform.ResetControl.SaveState(),
                FirmwareConfig = FirmwareConfig?.SaveState(),
                FirmwareVariables = FirmwareVariables?.SaveState(),
            },
            Pci = new PciState
            {
                Bus = Pci.Bus.SaveState(),
                ConfigAddress = Pci.LegacyConfigAccess.SaveState(),
                Virtio = [.. Pci.VirtioSlots.Select(s => VirtioSlotStates.Save(s.Slot, s.Transport))],
            },
        };
    }

    /// <summary>
    /// Loads <paramref name="state"/> into this machine, built from the same config over the saved memory and
    /// started paused (<see cref="MachineBuilder.BuildForRestore"/>). Checks what it can before anything changes;
    /// each part then checks its own state. Stays paused.
    /// </summary>
    internal void RestoreState(MachineState state)
    {
        if (!IsPaused) throw new InvalidOperationException("the machine must be paused to load a state");
        StateCheck.That(state.Accelerator == AcceleratorName, "accelerator", $"the state is for '{state.Accelerator}', this machine runs on '{AcceleratorName}'");
        StateCheck.That(state.MemorySize == _memory.Size, "memory_size", $"{state.MemorySize} bytes, but the machine has {_memory.Size}");
        StateCheck.Length(state.Vcpus, _runners.Length, "vcpus");
        StateCheck.Length(state.Platform.SerialPorts, Platform.SerialPorts.Count, "platform.serial_ports");
        StateCheck.That((state.Platform.FirmwareConfig is null) == (FirmwareConfig is null), "platform.firmware_config",
            FirmwareConfig is null ? "the state has fw_cfg, but this machine boots without firmware" : "the state has no fw_cfg, but this machine boots through firmware");
        StateCheck.That((state.Platform.FirmwareVariables is null) == (FirmwareVariables is null), "platform.firmware_variables",
            FirmwareVariables is null ? "the state has a UEFI variable store, but this machine does not boot UEFI" : "the state has no UEFI variable store, but this machine boots UEFI");
        var slots = Pci.VirtioSlots;
        StateCheck.Length(state.Pci.Virtio, slots.Count, "pci.virtio");
        for (int i = 0; i < slots.Count; i++)
            VirtioSlotStates.Check(state.Pci.Virtio[i], slots[i].Slot, slots[i].Transport.Device, $"pci.virtio[{i}]");

        ForEachVcpuRethrowing(v => v.RestoreState(state.Vcpus[v.Index]));
        for (int i = 0; i < Platform.SerialPorts.Count; i++) Platform.SerialPorts[i].RestoreState(state.Platform.SerialPorts[i]);
        Platform.Keyboard.RestoreState(state.Platform.Keyboard);
        Platform.Rtc.RestoreState(state.Platform.Rtc);
        Platform.PowerManagement.RestoreState(state.Platform.PowerManagement);
        Platform.ResetControl.RestoreState(state.Platform.ResetControl);
        if (FirmwareConfig is not null) FirmwareConfig.RestoreState(state.Platform.FirmwareConfig!);
        if (FirmwareVariables is not null) FirmwareVariables.RestoreState(state.Platform.FirmwareVariables!);
        // Configuration spaces first (BAR decoding, MSI-X enable), then each device, then its transport, which
        // starts a device that was running with its queues where they were.
        Pci.Bus.RestoreState(state.Pci.Bus);
        Pci.LegacyConfigAccess.RestoreState(state.Pci.ConfigAddress);
        for (int i = 0; i < slots.Count; i++) VirtioSlotStates.Restore(state.Pci.Virtio[i], slots[i].Transport);
        // The interrupt controllers and the clock last: the devices above drive their lines to the levels they
        // saved, and the controllers' own saved state (which already holds those levels) then has the last word.
        _vm.RestoreState(state.Vm);
    }

    /// <summary>As <see cref="ForEachVcpu"/>, with the first failure's own exception (a StateException stays one).</summary>
    private void ForEachVcpuRethrowing(Action<IVcpu> work)
    {
        try
        {
            ForEachVcpu(work);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }
}
