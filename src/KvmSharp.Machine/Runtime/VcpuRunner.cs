using KvmSharp.Accelerators;
using KvmSharp.Devices.Bus;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// The thread of one vCPU: runs it, dispatches its exits to the port and MMIO buses, and honours
/// pause and stop requests from <see cref="MachineRunState"/>. The exit path allocates nothing.
/// While parked it runs the work other threads hand it (<see cref="InvokeWhileParked"/>): KVM wants a
/// vCPU's ioctls on the thread that runs it (api.txt §4: "vcpu ioctls … from the same thread").
/// </summary>
internal sealed class VcpuRunner
{
    private readonly IVcpu _vcpu;
    private readonly IoBus _ports;
    private readonly IoBus _mmio;
    private readonly MachineRunState _state;
    private readonly Thread _thread;
    private readonly Action<VcpuRunner> _onThreadExit;
    private readonly object _park = new();
    private readonly Queue<(Action<IVcpu> Work, TaskCompletionSource Done)> _work = new();
    private bool _parked;
    private int _started;
    private volatile bool _exited;

    public VcpuRunner(IVcpu vcpu, IoBus ports, IoBus mmio, MachineRunState state, Action<VcpuRunner> onThreadExit)
    {
        _vcpu = vcpu;
        _ports = ports;
        _mmio = mmio;
        _state = state;
        _onThreadExit = onThreadExit;
        _thread = new Thread(ThreadMain) { Name = $"vcpu{vcpu.Index}", IsBackground = true };
        state.Released += Wake;
    }

    public IVcpu Vcpu => _vcpu;

    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>True once the thread has left its loop for good (or was never started and never will be).</summary>
    public bool Exited => _exited;

    public void Start()
    {
        Volatile.Write(ref _started, 1);
        _thread.Start();
    }

    /// <summary>Waits for the thread to end; a thread never started counts as ended.</summary>
    public bool Join(TimeSpan timeout) => !Started || _thread.Join(timeout);

    /// <summary>
    /// Runs <paramref name="work"/> on this vCPU's thread while it is parked (the machine paused), or on the
    /// caller's thread when the vCPU thread is not running (never started, or ended). The task fails with
    /// the work's exception.
    /// </summary>
    public Task InvokeWhileParked(Action<IVcpu> work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_park)
        {
            if (Started && !_exited)
            {
                if (!_parked && !_state.PauseRequested)
                    throw new InvalidOperationException($"vCPU {_vcpu.Index} is running; pause the machine first");
                _work.Enqueue((work, done));
                Monitor.PulseAll(_park);
                return done.Task;
            }
        }
        Execute(work, done);
        return done.Task;
    }

    private void Wake()
    {
        lock (_park) Monitor.PulseAll(_park);
    }

    private void ThreadMain()
    {
        try
        {
            using var attachment = _vcpu.AttachToCurrentThread();
            _state.VcpuStarted(_vcpu);
            while (!_state.StopRequested)
            {
                if (_state.PauseRequested)
                {
                    Park();
                    continue;
                }
                HandleExit(_vcpu.Run());
            }
        }
        catch (Exception e)
        {
            // A device or accelerator bug must end this VM, not the host process.
            _state.Fail($"vCPU {_vcpu.Index} stopped: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            lock (_park)
            {
                _exited = true;
                // Work queued while the thread was leaving runs here, still on this thread.
                while (_work.TryDequeue(out var item)) Execute(item.Work, item.Done);
            }
            _state.Released -= Wake;
            _state.VcpuStopped(_vcpu);
            _onThreadExit(this);
        }
    }

    /// <summary>Parks outside the guest until the pause ends, running handed-in work meanwhile.</summary>
    private void Park()
    {
        // The state a snapshot saves holds no half-done instruction, and a KVM guest learns it was paused.
        _vcpu.CompletePendingIo();
        _vcpu.OnPaused();
        lock (_park) _parked = true;
        _state.VcpuParked();
        try
        {
            while (true)
            {
                (Action<IVcpu> Work, TaskCompletionSource Done) item;
                lock (_park)
                {
                    while (_work.Count == 0 && _state.PauseRequested && !_state.StopRequested)
                        Monitor.Wait(_park);
                    if (!_work.TryDequeue(out item)) return;
                }
                Execute(item.Work, item.Done);
            }
        }
        finally
        {
            lock (_park) _parked = false;
            _state.VcpuUnparked();
        }
    }

    private void Execute(Action<IVcpu> work, TaskCompletionSource done)
    {
        try
        {
            work(_vcpu);
            done.SetResult();
        }
        catch (Exception e)
        {
            done.SetException(e);
        }
    }

    private void HandleExit(VcpuExit exit)
    {
        switch (exit.Reason)
        {
            case VcpuExitReason.IoOut:
                for (int i = 0; i < exit.Count; i++)
                    _ports.Write(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VcpuExitReason.IoIn:
                for (int i = 0; i < exit.Count; i++)
                    _ports.Read(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VcpuExitReason.MmioWrite:
                _mmio.Write(exit.Address, exit.Data);
                break;
            case VcpuExitReason.MmioRead:
                _mmio.Read(exit.Address, exit.Data);
                break;
            case VcpuExitReason.Kicked:
                break;
            case VcpuExitReason.Halt:
                // Only an accelerator without an in-kernel LAPIC reports HLT; wait for something to change.
                Thread.Sleep(1);
                break;
            case VcpuExitReason.Shutdown:
                _state.Finish(MachineExitReason.Reset, 0, "the guest shut down the CPU (triple fault or shutdown request)");
                break;
            case VcpuExitReason.Reset:
                _state.Finish(MachineExitReason.Reset, 0, "the guest asked for a reset");
                break;
            case VcpuExitReason.Failed:
                _state.Fail($"vCPU {_vcpu.Index}: {exit.Message}");
                break;
        }
    }
}
