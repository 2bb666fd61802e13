using KvmSharp.Accelerators;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// A built machine: its accelerator VM, memory, devices and one thread per vCPU. Start it, pause and
/// resume it, stop it, and wait for how it ended. Disposing it stops it and releases every fd and mapping.
/// </summary>
public sealed class RunningMachine : IDisposable
{
    private readonly IVirtualMachine _vm;
    private readonly GuestMemory _memory;
    private readonly VcpuRunner[] _runners;
    private readonly MachineRunState _state;
    private readonly IReadOnlyList<IDisposable> _owned;
    private int _started;

    internal RunningMachine(string acceleratorName, IVirtualMachine vm, GuestMemory memory, VcpuRunner[] runners,
        MachineRunState state, IReadOnlyList<IDisposable> owned)
    {
        AcceleratorName = acceleratorName;
        _vm = vm;
        _memory = memory;
        _runners = runners;
        _state = state;
        _owned = owned;
    }

    /// <summary>"kvm" or "emulate".</summary>
    public string AcceleratorName { get; }

    public GuestMemory Memory => _memory;

    public int VcpuCount => _runners.Length;

    /// <summary>Completes when the machine's run ends, with the reason and the process exit status.</summary>
    public Task<MachineExit> Exit => _state.Exit;

    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("the machine was already started");
        foreach (var runner in _runners) runner.Start();
    }

    /// <summary>Parks every vCPU outside the guest; true when all are parked within <paramref name="timeout"/>.</summary>
    public bool Pause(TimeSpan timeout) => _state.Pause(timeout);

    public void Resume() => _state.Resume();

    /// <summary>Number of vCPUs parked by <see cref="Pause"/> right now.</summary>
    public int PausedVcpus => _state.PausedVcpus;

    /// <summary>Ends the run from the host side.</summary>
    public void Stop(string why = "stopped by the host") => _state.Finish(MachineExitReason.Stopped, 0, why);

    public MachineExit WaitForExit() => _state.Exit.GetAwaiter().GetResult();

    public void Dispose()
    {
        Stop();
        // A vCPU thread stuck in a device call must not keep the process alive: they are background
        // threads, so after a bounded wait we release resources only if they all came back.
        bool allStopped = _runners.All(r => r.Join(TimeSpan.FromSeconds(5)));
        if (!allStopped) return;
        foreach (var runner in _runners) runner.Vcpu.Dispose();
        foreach (var owned in _owned.Reverse()) owned.Dispose();
        _vm.Dispose();
        _memory.Dispose();
    }
}
