using KvmSharp.Accelerators;
using KvmSharp.Devices;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// What every vCPU thread of one machine shares: the stop and pause requests, the kick that delivers
/// them, and the first reason the run ended. Devices reach it as <see cref="IMachineControl"/>.
/// </summary>
internal sealed class MachineRunState : IMachineControl
{
    private readonly Lock _lock = new();
    private readonly List<IVcpu> _running = [];
    private readonly TaskCompletionSource<MachineExit> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopRequested;
    private volatile bool _pauseRequested;
    private int _parkedCount;
    private int _liveThreads;

    /// <summary>Raised (on the thread that caused it) when a pause or stop request ends: parked vCPUs wake up.</summary>
    public event Action? Released;

    public bool StopRequested => _stopRequested;
    public bool PauseRequested => _pauseRequested;
    public Task<MachineExit> Exit => _exit.Task;

    public void VcpuStarted(IVcpu vcpu)
    {
        lock (_lock)
        {
            _running.Add(vcpu);
            _liveThreads++;
        }
        if (_stopRequested || _pauseRequested) vcpu.Kick();
    }

    /// <summary>A vCPU thread has ended; the last one ends the run if nothing else did.</summary>
    public void VcpuStopped(IVcpu vcpu)
    {
        lock (_lock)
        {
            _running.Remove(vcpu);
            if (--_liveThreads == 0)
                _exit.TrySetResult(new MachineExit(MachineExitReason.Stopped, 0, "all vCPUs stopped"));
        }
    }

    public void RequestStop(StopRequest request, int exitStatus) => Finish(request switch
    {
        StopRequest.PowerOff => MachineExitReason.PowerOff,
        StopRequest.Reset => MachineExitReason.Reset,
        _ => MachineExitReason.DebugExit,
    }, exitStatus, request switch
    {
        StopRequest.PowerOff => "the guest powered off",
        StopRequest.Reset => "the guest asked for a reset",
        _ => $"the guest wrote to the debug-exit port (exit status {exitStatus})",
    });

    public void Fail(string message) => Finish(MachineExitReason.Failed, 1, message);

    /// <summary>Ends the run with the first reason given; later reasons are ignored.</summary>
    public void Finish(MachineExitReason reason, int exitStatus, string message)
    {
        if (!_exit.TrySetResult(new MachineExit(reason, exitStatus, message))) return;
        _stopRequested = true;
        Released?.Invoke();
        KickAll();
    }

    /// <summary>
    /// Asks every vCPU to park outside the guest and waits until each has (or the run ends). Threads
    /// not started yet park before their first run.
    /// </summary>
    public bool Pause(TimeSpan timeout, int vcpuCount)
    {
        _pauseRequested = true;
        KickAll();
        var deadline = DateTime.UtcNow + timeout;
        while (Volatile.Read(ref _parkedCount) < vcpuCount && !_stopRequested)
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>Asks parked vCPUs to go on; returns at once (they leave their park on their own threads).</summary>
    public void Resume()
    {
        _pauseRequested = false;
        Released?.Invoke();
    }

    /// <summary>Sets the pause request before any vCPU thread starts, so each parks before it first runs.</summary>
    public void PauseBeforeStart() => _pauseRequested = true;

    public int ParkedVcpus => Volatile.Read(ref _parkedCount);

    public void VcpuParked() => Interlocked.Increment(ref _parkedCount);

    public void VcpuUnparked() => Interlocked.Decrement(ref _parkedCount);

    private void KickAll()
    {
        lock (_lock)
        {
            foreach (var vcpu in _running) vcpu.Kick();
        }
    }
}
