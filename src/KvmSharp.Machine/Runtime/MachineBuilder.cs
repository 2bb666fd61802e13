using KvmSharp.Accelerators;
using KvmSharp.Boot.Acpi;
using KvmSharp.Boot.Cpu;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Virtio;
using KvmSharp.Machine.Accel;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.State;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// Builds a machine from a <see cref="MachineConfig"/>: accelerator, RAM, platform devices, ACPI tables,
/// the kernel and the vCPUs' entry state. <c>new MachineBuilder(config).Build().Start()</c>.
/// </summary>
public sealed class MachineBuilder(MachineConfig config)
{
    private readonly MachineConfig _config = config.Normalize();
    private ConsoleBackend? _console;
    private bool _ownsConsole;
    private ConsoleBackend? _virtioConsole;
    private bool _ownsVirtioConsole;
    private IAccelerator? _accelerator;
    private Action<string> _inform = _ => { };
    private readonly List<(bool Mmio, ulong Start, ulong Length, IBusDevice Device)> _extraDevices = [];
    private readonly Dictionary<int, ISerialOutput> _serialOutputs = [];
    private readonly List<(string Kind, Func<IVirtioDevice> Create)> _extraVirtio = [];

    /// <summary>
    /// Uses this console for COM1 instead of the one the config names (tests capture output this way).
    /// <paramref name="owned"/> false: the caller keeps it (one console across a machine's reboots).
    /// </summary>
    public MachineBuilder WithConsole(ConsoleBackend console, bool owned = true)
    {
        _console = console;
        _ownsConsole = owned;
        return this;
    }

    /// <summary>Uses this host end for the virtio console the config asks for, instead of creating one.</summary>
    public MachineBuilder WithVirtioConsole(ConsoleBackend backend, bool owned = true)
    {
        _virtioConsole = backend;
        _ownsVirtioConsole = owned;
        return this;
    }

    /// <summary>Uses this accelerator instead of the one the config names.</summary>
    public MachineBuilder WithAccelerator(IAccelerator accelerator) { _accelerator = accelerator; return this; }

    /// <summary>Sends what the guest transmits on COM2, COM3 or COM4 to <paramref name="output"/> (COM1 is the console).</summary>
    public MachineBuilder WithSerialOutput(int comPort, ISerialOutput output)
    {
        if (comPort is < 2 or > 4) throw new ArgumentOutOfRangeException(nameof(comPort), comPort, "COM2 to COM4; COM1 is the console");
        _serialOutputs[comPort] = output;
        return this;
    }

    /// <summary>Adds a device of the embedder's own at a port range.</summary>
    public MachineBuilder WithPortDevice(ushort start, ushort length, IBusDevice device)
    {
        _extraDevices.Add((false, start, length, device));
        return this;
    }

    /// <summary>Adds a device of the embedder's own at an MMIO range (outside RAM).</summary>
    public MachineBuilder WithMmioDevice(ulong start, ulong length, IBusDevice device)
    {
        _extraDevices.Add((true, start, length, device));
        return this;
    }

    /// <summary>Adds a virtio device of the embedder's own on PCI, in the lowest slot the config's devices leave free.</summary>
    public MachineBuilder WithVirtioDevice(string kind, Func<IVirtioDevice> create)
    {
        _extraVirtio.Add((kind, create));
        return this;
    }

    /// <summary>Where one-line notices for the user go (accelerator choice, console path).</summary>
    public MachineBuilder WithNotices(Action<string> inform) { _inform = inform; return this; }

    public RunningMachine Build() => Build(restoring: null);

    /// <summary>
    /// Builds the machine a saved state came from, over <paramref name="memory"/> (the saved RAM, mapped from its
    /// file), starts it paused and loads <paramref name="state"/> into it. Nothing is written to guest memory: no
    /// kernel is loaded and no table built, the RAM already holds them. The builder owns <paramref name="memory"/> from here.
    /// </summary>
    public RunningMachine BuildForRestore(MachineState state, GuestMemory memory)
    {
        var machine = Build((state, memory));
        try
        {
            machine.Start(paused: true);
            if (!machine.Pause(TimeSpan.FromSeconds(10))) throw new InvalidOperationException("the restored machine's vCPUs did not park");
            machine.RestoreState(state);
            return machine;
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    private RunningMachine Build((MachineState State, GuestMemory Memory)? restoring)
    {
        var problems = _config.Validate();
        if (problems.Count == 0) problems = HostResources.Problems(_config);
        if (problems.Count > 0)
        {
            restoring?.Memory.Dispose();
            throw new MachineConfigException(problems);
        }

        var owned = new List<IDisposable>();
        // Deterministic time exists only on the software CPU, so --icount makes "auto" choose it; a restore
        // runs on the accelerator that saved the state.
        var choice = restoring is { } r ? (r.State.Accelerator == "kvm" ? AcceleratorChoice.Kvm : AcceleratorChoice.Emulate)
            : _config.InstructionCountShift is not null && _config.Accelerator == AcceleratorChoice.Auto ? AcceleratorChoice.Emulate : _config.Accelerator;
        IAccelerator accelerator;
        try
        {
            accelerator = _accelerator ?? AcceleratorSelector.Select(choice, _inform);
        }
        catch
        {
            restoring?.Memory.Dispose();
            throw;
        }
        byte[]? firmware = null;
        GuestMemory memory;
        try
        {
            if (_config.Firmware is { } firmwareConfig) firmware = FirmwareBoot.ReadImage(firmwareConfig);
            memory = restoring?.Memory ?? GuestMemory.Create(_config.MemorySize);
        }
        catch
        {
            restoring?.Memory.Dispose();
            throw;
        }
        IVirtualMachine? vm = null;
        var vcpus = new List<IVcpu>();
        try
        {
            // The flash is mapped before the VM exists: the accelerator maps every region when it creates the VM.
            if (firmware is not null) memory.MapFirmware(firmware);
            vm = accelerator.CreateVirtualMachine(memory, new VirtualMachineOptions(_config.VcpuCount, _config.LegacyTimer, _config.InstructionCountShift, _config.Translator));
            var state = new MachineRunState();
            var ports = new IoBus("port I/O");
            var mmio = new IoBus("MMIO");
            var console = _console ?? CreateConsole(state);
            if (_console is null || _ownsConsole) owned.Add(console);
            var platform = new PlatformDevices(vm, ports, state, _config, console, _serialOutputs);
            // The hvc0 backend is owned before the PCI devices so that it is disposed after the console device.
            ConsoleBackend? hvc = _config.VirtioConsole is { } hvcConfig
                ? _virtioConsole ?? ConsoleBackends.Create(hvcConfig.HostEnd(), "virtio console (hvc0)", _inform, () => state.Finish(MachineExitReason.Stopped, 0, "quit from the console (Ctrl-A x)"))
                : null;
            if (hvc is not null && (_virtioConsole is null || _ownsVirtioConsole)) owned.Add(hvc);
            Devices.Firmware.CfiFlash? variables = null;
            if (_config.Firmware is { Kind: FirmwareKind.Uefi } uefi)
            {
                var (flash, file) = FirmwareBoot.MapVariableStore(mmio, uefi, firmware!.Length, _inform);
                if (file is not null) owned.Add(file);
                variables = flash;
            }
            var pci = new PciDevices(ports, mmio, platform.ResetControl, firmwarePlacesBars: firmware is not null, _config.MemorySize, i440Fx: variables is not null);
            owned.Add(pci);
            foreach (var (kind, slot, create) in VirtioDeviceFactory.FromConfig(_config, hvc, _inform))
                pci.AddVirtio(create(), slot, vm, memory, kind, _inform);
            foreach (var (kind, create) in _extraVirtio)
            {
                int slot = pci.FreeSlot() ?? throw new MachineConfigException($"{kind}: no PCI slot is left for it");
                pci.AddVirtio(create(), slot, vm, memory, kind, _inform);
            }
            foreach (var (isMmio, start, length, device) in _extraDevices)
            {
                if (isMmio && memory.IsValidRange(new GuestAddress(start), 1))
                    throw new MachineConfigException($"MMIO device at 0x{start:x} overlaps guest RAM");
                (isMmio ? mmio : ports).Register(start, length, device);
            }

            for (int i = 0; i < _config.VcpuCount; i++) vcpus.Add(vm.CreateVcpu(i));
            var acpi = AcpiPlatform.Default(_config.VcpuCount);
            IReadOnlyList<IAcpiDevice> acpiDevices = [.. platform.AcpiDevices, .. pci.AcpiDevices];
            Devices.Firmware.FwCfg? fwCfg = null;
            if (firmware is not null)
            {
                // The firmware starts from the reset vector and installs the tables itself.
                fwCfg = FirmwareBoot.CreateFwCfg(memory, ports, _config, FirmwareAcpiTables.Build(acpi, acpiDevices, pci.AcpiTables));
                if (restoring is null && _config.Firmware!.Kind == FirmwareKind.Bios) FirmwareBoot.CopyLowBios(memory, firmware);
            }
            else if (restoring is null)
            {
                ulong rsdp = AcpiTables.Build(memory, acpi, acpiDevices, pci.AcpiTables).Value;
                var entry = _config.Kernel is { } kernel
                    ? KernelLoader.Load(memory, kernel, rsdp)
                    : KernelLoader.Load(memory, DemoGuest.Build(), [], "", rsdp);
                ApplyEntryState(vcpus[0], entry);
            }
            console.Connect(platform.Com1);

            return new RunningMachine(accelerator.Name, vm, memory,
                (runState, onExit) => [.. vcpus.Select(v => new VcpuRunner(v, ports, mmio, runState, onExit))], state, owned, platform, pci)
            {
                Config = _config,
                FirmwareConfig = fwCfg,
                FirmwareVariables = variables,
            };
        }
        catch
        {
            foreach (var v in vcpus) v.Dispose();
            foreach (var o in owned) o.Dispose();
            vm?.Dispose();
            memory.Dispose();
            throw;
        }
    }

    private ConsoleBackend CreateConsole(MachineRunState state) =>
        ConsoleBackends.Create(_config.Console, "console", _inform,
            () => state.Finish(MachineExitReason.Stopped, 0, "quit from the console (Ctrl-A x)"));

    /// <summary>The bootstrap processor starts at the loader's entry state; the others wait for INIT/SIPI.</summary>
    private static void ApplyEntryState(IVcpu bsp, BootCpuState entry)
    {
        // The loader decides modes and segments; the APIC base (enabled, BSP flag) stays as the accelerator reset it.
        bsp.GetSpecialRegisters(out var current);
        var registers = entry.SpecialRegisters;
        registers.ApicBase = current.ApicBase;
        bsp.SetSpecialRegisters(registers);
        bsp.SetRegisters(entry.Registers);
        // x87 and SSE control words as after FNINIT and at reset (Intel SDM vol 1 §8.1.5, §10.2.3.1).
        bsp.SetFpu(new FpuState { Fcw = 0x37F, Mxcsr = 0x1F80 });
    }
}
