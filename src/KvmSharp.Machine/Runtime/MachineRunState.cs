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
    private readonly ManualResetEventSlim _resumed = new(initialState: true);
    private readonly TaskCompletionSource<MachineExit> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopRequested;
    private volatile bool _pauseRequested;
    private int _pausedCount;
    private int _liveThreads;

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

    public void VcpuStopped()
    {
        lock (_lock)
        {
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
        _resumed.Set();
        KickAll();
    }

    /// <summary>Asks every vCPU to pause and waits until each is parked (or the machine stops).</summary>
    public bool Pause(TimeSpan timeout)
    {
        int target;
        lock (_lock)
        {
            _resumed.Reset();
            _pauseRequested = true;
            target = _liveThreads;
        }
        KickAll();
        var deadline = DateTime.UtcNow + timeout;
        while (Volatile.Read(ref _pausedCount) < target && !_stopRequested)
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    public void Resume()
    {
        _pauseRequested = false;
        _resumed.Set();
    }

    public int PausedVcpus => Volatile.Read(ref _pausedCount);

    /// <summary>Called by a vCPU thread that saw a pause request: parks it until resumed or stopped.</summary>
    public void WaitWhilePaused()
    {
        Interlocked.Increment(ref _pausedCount);
        _resumed.Wait();
        Interlocked.Decrement(ref _pausedCount);
    }

    private void KickAll()
    {
        lock (_lock)
        {
            foreach (var vcpu in _running) vcpu.Kick();
        }
    }
}
