using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;
using KvmSharp.Machine.Runtime;
using KvmSharp.Machine.State;

namespace KvmSharp.Machine.Control;

/// <summary>
/// One machine across its whole life: its configuration (changeable until it starts), its boots (a guest
/// reset starts a new one, as on a PC, unless <see cref="MachineControllerOptions.NoReboot"/>), pause and
/// resume, and the host's requests (Ctrl-Alt-Delete, the ACPI power button, a hard reset, stop). The
/// consoles are created once and outlive each boot, so a client on a pty or socket sees a reboot as one
/// continuous console. The per-VM API and the CLI both drive machines through this class.
/// </summary>
public sealed partial class MachineController : IDisposable
{
    /// <summary>How long a pause waits for every vCPU to leave the guest.</summary>
    private static readonly TimeSpan PauseTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly MachineControllerOptions _options;
    private readonly TaskCompletionSource<MachineExit> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MachineConfig _config;
    private MachinePhase _phase = MachinePhase.NotStarted;
    private RunningMachine? _machine;
    private ConsoleBackend? _console;
    private ConsoleBackend? _virtioConsole;
    private bool _resetRequested;
    private bool _stopRequested;
    private string? _stopReason;
    private int _boots;

    public MachineController(MachineConfig config, MachineControllerOptions? options = null)
    {
        _config = config;
        _options = options ?? new MachineControllerOptions();
    }

    public MachineConfig Config { get { lock (_lock) return _config; } }

    public MachinePhase Phase { get { lock (_lock) return _phase; } }

    /// <summary>How many times the machine has booted (1 after the first start; each reboot adds one).</summary>
    public int Boots { get { lock (_lock) return _boots; } }

    /// <summary>Completes when the machine ends for good (not at a reboot).</summary>
    public Task<MachineExit> Exit => _exit.Task;

    /// <summary>The current boot, for tests and snapshots; null before the start and after the end.</summary>
    public RunningMachine? Current { get { lock (_lock) return _machine; } }

    /// <summary>Changes the configuration; only before the start (Firecracker's pre-boot calls).</summary>
    public void Configure(Func<MachineConfig, MachineConfig> change)
    {
        lock (_lock)
        {
            RequirePhase("change the configuration", MachinePhase.NotStarted);
            _config = change(_config);
        }
    }

    /// <summary>
    /// Boots the machine; with <paramref name="paused"/> its vCPUs park before the first guest instruction (libvirt's
    /// start --paused) until <see cref="Resume"/>. Fails with the builder's one-line error (bad config, missing kernel)
    /// and stays NotStarted.
    /// </summary>
    public void Start(bool paused = false)
    {
        lock (_lock)
        {
            RequirePhase("start the machine", MachinePhase.NotStarted);
            CreateConsoles();
            var machine = Build();
            try
            {
                BeforeGuestRuns();
            }
            catch
            {
                machine.Dispose();
                throw;
            }
            _machine = machine;
            _boots = 1;
            _phase = paused ? MachinePhase.Paused : MachinePhase.Running;
            if (paused)
            {
                _console?.HoldInput(true);
                _virtioConsole?.HoldInput(true);
            }
            machine.Start(paused);
            Supervise(machine);
        }
    }

    public void Pause()
    {
        lock (_lock)
        {
            RefuseDuringMigration("pause");
            PauseLocked();
        }
    }

    /// <summary>Caller holds the lock.</summary>
    private void PauseLocked()
    {
        if (_phase == MachinePhase.Paused) return;
        RequirePhase("pause", MachinePhase.Running);
        _console?.HoldInput(true);
        _virtioConsole?.HoldInput(true);
        if (!_machine!.Pause(PauseTimeout))
        {
            _machine.Resume();
            _console?.HoldInput(false);
            _virtioConsole?.HoldInput(false);
            throw new MachinePhaseException($"the vCPUs did not stop within {PauseTimeout.TotalSeconds:0} s; the machine keeps running");
        }
        _phase = MachinePhase.Paused;
    }

    public void Resume()
    {
        lock (_lock)
        {
            RefuseDuringMigration("resume");
            ResumeLocked();
        }
    }

    /// <summary>Caller holds the lock.</summary>
    private void ResumeLocked()
    {
        if (_phase == MachinePhase.Running) return;
        RequirePhase("resume", MachinePhase.Paused);
        _machine!.Resume();
        _console?.HoldInput(false);
        _virtioConsole?.HoldInput(false);
        _phase = MachinePhase.Running;
    }

    /// <summary>Ctrl-Alt-Delete on the guest's keyboard (Firecracker's SendCtrlAltDel): the guest decides what it means.</summary>
    public void SendCtrlAltDelete()
    {
        lock (_lock)
        {
            RequirePhase("send Ctrl-Alt-Delete", MachinePhase.Running);
            if (!_machine!.SendCtrlAltDelete())
                throw new MachinePhaseException("the guest's keyboard takes no input (scanning disabled or its buffer full)");
        }
    }

    /// <summary>Presses the ACPI power button: a graceful shutdown where the guest handles it.</summary>
    public void Shutdown()
    {
        lock (_lock)
        {
            RequirePhase("press the power button", MachinePhase.Running);
            _machine!.PressPowerButton();
        }
    }

    /// <summary>A hard reset (the reset line): the machine boots again even with NoReboot.</summary>
    public void Reboot()
    {
        lock (_lock)
        {
            RequirePhase("reboot", MachinePhase.Running, MachinePhase.Paused);
            _resetRequested = true;
            _machine!.Stop("reset by the host");
        }
    }

    /// <summary>Ends the machine from the host side (a paused one too); nothing if it has ended.</summary>
    public void Stop(string why = "stopped by the host")
    {
        RunningMachine? machine;
        lock (_lock)
        {
            _stopRequested = true;
            _stopReason ??= why;
            _incoming?.Cancel();
            machine = _machine;
            if (_phase == MachinePhase.NotStarted)
            {
                _phase = MachinePhase.Ended;
                _exit.TrySetResult(new MachineExit(MachineExitReason.Stopped, 0, why));
            }
        }
        machine?.Stop(why);
    }

    public MachineExit WaitForExit() => _exit.Task.GetAwaiter().GetResult();

    /// <summary>Writes a full snapshot of the paused machine (Firecracker's PUT /snapshot/create with snapshot_type Full).</summary>
    public MachineSnapshot.Result CreateSnapshot(string statePath, string memoryPath)
    {
        lock (_lock)
        {
            RequirePhase("create a snapshot", MachinePhase.Paused);
            return MachineSnapshot.Create(_machine!, statePath, memoryPath);
        }
    }

    /// <summary>
    /// Becomes the machine a snapshot saved, instead of booting one: the state's config (with this controller's
    /// COM1 console), disks and NICs opened again, RAM mapped copy-on-write from <paramref name="memoryPath"/>.
    /// Paused afterwards unless <paramref name="resume"/>. A bad snapshot is refused in one line and nothing starts.
    /// </summary>
    public void LoadSnapshot(string statePath, string memoryPath, bool resume)
    {
        lock (_lock)
        {
            RequirePhase("load a snapshot", MachinePhase.NotStarted);
            var state = MachineSnapshot.ReadState(statePath);
            BecomeRestored(state, (restored, builder) => MachineSnapshot.Load(restored, memoryPath, builder));
            if (resume) ResumeLocked();
        }
    }

    /// <summary>
    /// Builds the machine <paramref name="state"/> describes (with this controller's COM1 console) through
    /// <paramref name="load"/>, paused; on any failure nothing is left started and the configuration is as it was.
    /// </summary>
    private void BecomeRestored(MachineState state, Func<MachineState, MachineBuilder, RunningMachine> load)
    {
        var previous = _config;
        _config = state.Config with { Console = _config.Console };
        try
        {
            CreateConsoles();
            _machine = load(state with { Config = _config }, NewBuilder());
            try
            {
                BeforeGuestRuns();
            }
            catch
            {
                _machine.Dispose();
                _machine = null;
                throw;
            }
        }
        catch
        {
            _config = previous;
            if (_options.Console is null) _console?.Dispose();
            _virtioConsole?.Dispose();
            _console = _virtioConsole = null;
            throw;
        }
        _boots = 1;
        _phase = MachinePhase.Paused;
        _console?.HoldInput(true);
        _virtioConsole?.HoldInput(true);
        Supervise(_machine);
    }

    private void RequirePhase(string action, params MachinePhase[] allowed)
    {
        if (Array.IndexOf(allowed, _phase) >= 0) return;
        throw new MachinePhaseException(_phase switch
        {
            MachinePhase.NotStarted => $"cannot {action}: the machine has not started",
            MachinePhase.Running => $"cannot {action}: the machine is running",
            MachinePhase.Paused => $"cannot {action}: the machine is paused",
            _ => $"cannot {action}: the machine has ended",
        });
    }

    private void CreateConsoles()
    {
        _console = _options.Console ?? ConsoleBackends.Create(_config.Console, "console", _options.Notices, () => Stop("quit from the console (Ctrl-A x)"));
        if (_config.VirtioConsole is { } hvc)
            _virtioConsole = ConsoleBackends.Create(hvc.HostEnd(), "virtio console (hvc0)", _options.Notices, () => Stop("quit from the console (Ctrl-A x)"));
    }

    private RunningMachine Build() => NewBuilder().Build();

    private bool _confined;

    /// <summary>The options' hook, the first time a boot or restore is ready to run. Caller holds the lock.</summary>
    private void BeforeGuestRuns()
    {
        if (_confined || _options.BeforeGuestRuns is null) return;
        _options.BeforeGuestRuns(_config);
        _confined = true;
    }

    private MachineBuilder NewBuilder()
    {
        var builder = new MachineBuilder(_config).WithNotices(_options.Notices).WithConsole(_console!, owned: false);
        if (_virtioConsole is not null) builder.WithVirtioConsole(_virtioConsole, owned: false);
        _options.ConfigureBuilder?.Invoke(builder);
        return builder;
    }

    private void Supervise(RunningMachine machine) =>
        machine.Exit.ContinueWith(t => OnBootEnded(machine, t.Result), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>One boot ended: boot again after a reset (a PC's behaviour), otherwise the machine has ended.</summary>
    private void OnBootEnded(RunningMachine machine, MachineExit exit)
    {
        bool again;
        lock (_lock)
        {
            if (!ReferenceEquals(_machine, machine)) return;
            bool rebootWanted = _resetRequested || (exit.Reason == MachineExitReason.Reset && !_options.NoReboot);
            again = !_stopRequested && rebootWanted;
            // A reset that races with the host's stop would only have booted again: the machine ends as the host asked.
            if (_stopRequested && rebootWanted) exit = new MachineExit(MachineExitReason.Stopped, 0, _stopReason ?? "stopped by the host");
            _resetRequested = false;
        }
        machine.Dispose();
        if (again)
        {
            try
            {
                lock (_lock)
                {
                    if (_stopRequested)
                    {
                        End(new MachineExit(MachineExitReason.Stopped, 0, _stopReason ?? "stopped by the host"));
                        return;
                    }
                    _options.Notices($"kvmsharp: {exit.Message}; booting again");
                    var next = Build();
                    _machine = next;
                    _boots++;
                    _phase = MachinePhase.Running;
                    next.Start();
                    Supervise(next);
                }
                return;
            }
            catch (Exception e)
            {
                exit = new MachineExit(MachineExitReason.Failed, 1, $"the machine could not boot again: {e.Message}");
            }
        }
        End(exit);
    }

    private void End(MachineExit exit)
    {
        lock (_lock)
        {
            _machine = null;
            _phase = MachinePhase.Ended;
        }
        _exit.TrySetResult(exit);
    }

    public void Dispose()
    {
        Stop("the machine was disposed");
        RunningMachine? machine;
        lock (_lock) machine = _machine;
        machine?.Dispose();
        // Wait for the supervisor to record the end so the consoles outlive every boot that used them.
        _exit.Task.Wait(TimeSpan.FromSeconds(10));
        if (_options.Console is null) _console?.Dispose();
        _virtioConsole?.Dispose();
    }
}
