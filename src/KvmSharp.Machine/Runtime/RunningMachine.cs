using KvmSharp.Accelerators;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// A built machine: its accelerator VM, memory, devices and one thread per vCPU. Start it, pause and
/// resume it, stop it, and wait for how it ended. Disposing it stops it and releases every fd and mapping,
/// even when a vCPU thread is stuck in a device call: the last such thread to come back releases them.
/// </summary>
public sealed partial class RunningMachine : IDisposable
{
    /// <summary>How long Dispose waits for vCPU threads before it releases devices to unblock them.</summary>
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(2);

    private readonly IVirtualMachine _vm;
    private readonly GuestMemory _memory;
    private readonly VcpuRunner[] _runners;
    private readonly MachineRunState _state;
    private readonly IReadOnlyList<IDisposable> _owned;
    private readonly Lock _releaseLock = new();
    private int _started;
    private int _disposed;
    private bool _devicesReleased;
    private bool _devicesPaused;
    private bool _released;

    internal RunningMachine(string acceleratorName, IVirtualMachine vm, GuestMemory memory, Func<MachineRunState, Action<VcpuRunner>, VcpuRunner[]> runners,
        MachineRunState state, IReadOnlyList<IDisposable> owned, PlatformDevices platform, PciDevices pci)
    {
        AcceleratorName = acceleratorName;
        Platform = platform;
        Pci = pci;
        _vm = vm;
        _memory = memory;
        _state = state;
        _owned = owned;
        _runners = runners(state, OnRunnerExit);
    }

    internal PlatformDevices Platform { get; }

    internal PciDevices Pci { get; }

    /// <summary>Presses and releases Ctrl-Alt-Delete on the guest's keyboard; false when the guest's keyboard takes no input.</summary>
    public bool SendCtrlAltDelete() => Platform.Keyboard.InjectCtrlAltDelete();

    /// <summary>Presses the ACPI power button: a guest that handles it shuts down gracefully.</summary>
    public void PressPowerButton() => Platform.PowerManagement.PressPowerButton();

    /// <summary>The balloon device, when the machine has one.</summary>
    public Devices.Virtio.Balloon.VirtioBalloonDevice? Balloon => Pci.Devices<Devices.Virtio.Balloon.VirtioBalloonDevice>().FirstOrDefault();

    /// <summary>The virtio device in PCI slot <paramref name="slot"/> of bus 0, or null when that slot has none.</summary>
    public Devices.Virtio.IVirtioDevice? VirtioDeviceInSlot(int slot) =>
        Pci.VirtioSlots.FirstOrDefault(s => s.Slot == slot).Transport?.Device;

    /// <summary>"kvm" or "emulate".</summary>
    public string AcceleratorName { get; }

    public GuestMemory Memory => _memory;

    public int VcpuCount => _runners.Length;

    /// <summary>Completes when the machine's run ends, with the reason and the process exit status.</summary>
    public Task<MachineExit> Exit => _state.Exit;

    /// <summary>Starts every vCPU thread; with <paramref name="paused"/> they park before they first enter the guest.</summary>
    public void Start(bool paused = false)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("the machine was already started");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (paused) _state.PauseBeforeStart();
        foreach (var runner in _runners) runner.Start();
    }

    /// <summary>
    /// Freezes the machine: every vCPU parks outside the guest (its pending port or MMIO read completed), then every
    /// device thread stops touching guest memory and interrupts, then guest time stops. True when all vCPUs parked
    /// within <paramref name="timeout"/> (or the run ended); false leaves the vCPUs asked to pause: call Resume.
    /// </summary>
    public bool Pause(TimeSpan timeout)
    {
        if (!_state.Pause(timeout, _runners.Count(r => r.Started))) return false;
        lock (_releaseLock)
        {
            if (_devicesPaused || _devicesReleased) return true;
            foreach (var device in PausableDevices) device.Pause();
            _vm.PauseTime();
            _devicesPaused = true;
        }
        return true;
    }

    /// <summary>Undoes <see cref="Pause"/> in reverse order: time, devices, vCPUs.</summary>
    public void Resume()
    {
        lock (_releaseLock)
        {
            if (_devicesPaused && !_devicesReleased)
            {
                _vm.ResumeTime();
                foreach (var device in PausableDevices.Reverse()) device.Resume();
            }
            _devicesPaused = false;
        }
        _state.Resume();
    }

    /// <summary>True between a completed <see cref="Pause"/> and <see cref="Resume"/>.</summary>
    public bool IsPaused { get { lock (_releaseLock) return _devicesPaused; } }

    /// <summary>Devices with threads of their own: the legacy ones with host input, then each virtio transport.</summary>
    private IEnumerable<Devices.IPausable> PausableDevices =>
        Platform.SerialPorts.Cast<object>().Append(Platform.Keyboard).Append(Platform.PowerManagement)
            .Concat(Pci.VirtioSlots.Select(s => s.Transport)).OfType<Devices.IPausable>();

    /// <summary>Number of vCPUs parked by <see cref="Pause"/> right now.</summary>
    public int PausedVcpus => _state.ParkedVcpus;

    /// <summary>
    /// Runs <paramref name="work"/> for each vCPU on its own thread while the machine is paused (or where the
    /// thread is not running) and waits for all; the first failure is rethrown.
    /// </summary>
    public void ForEachVcpu(Action<IVcpu> work)
    {
        var tasks = _runners.Select(r => r.InvokeWhileParked(work)).ToArray();
        Task.WaitAll(tasks);
    }

    /// <summary>Ends the run from the host side.</summary>
    public void Stop(string why = "stopped by the host") => _state.Finish(MachineExitReason.Stopped, 0, why);

    public MachineExit WaitForExit() => _state.Exit.GetAwaiter().GetResult();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Stop("the machine was disposed");
        if (JoinAll()) { Release(); return; }
        // A vCPU still inside a device call: releasing the devices (closing their sockets, files and
        // eventfds) is what usually lets such a call return.
        ReleaseDevices();
        if (JoinAll()) { Release(); return; }
        // Still stuck: the vCPU's thread may yet touch guest memory, so memory and the VM stay until
        // its thread ends; OnRunnerExit releases them then. The threads are background threads, so
        // they never keep the process alive.
        lock (_releaseLock)
        {
            if (_runners.All(r => r.Exited || !r.Started)) Release();
        }
    }

    private bool JoinAll()
    {
        var deadline = DateTime.UtcNow + JoinTimeout;
        foreach (var runner in _runners)
        {
            var left = deadline - DateTime.UtcNow;
            if (!runner.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero)) return false;
        }
        return true;
    }

    /// <summary>Called on a vCPU thread as it ends: the last one of a disposed machine releases what Dispose could not.</summary>
    private void OnRunnerExit(VcpuRunner runner)
    {
        if (Volatile.Read(ref _disposed) == 0) return;
        lock (_releaseLock)
        {
            if (_runners.All(r => r.Exited || !r.Started)) Release();
        }
    }

    private void ReleaseDevices()
    {
        lock (_releaseLock)
        {
            if (_devicesReleased) return;
            _devicesReleased = true;
            foreach (var owned in _owned.Reverse()) owned.Dispose();
        }
    }

    private void Release()
    {
        lock (_releaseLock)
        {
            if (_released) return;
            _released = true;
            ReleaseDevices();
            foreach (var runner in _runners) runner.Vcpu.Dispose();
            _vm.Dispose();
            _memory.Dispose();
        }
    }
}
