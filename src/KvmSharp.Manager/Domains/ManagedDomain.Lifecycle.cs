using System.Diagnostics;
using KvmSharp.Machine.Config;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Manager.Vmm;
using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

internal sealed partial class ManagedDomain
{
    /// <summary>Starts the domain: from its managed save image when it has one (which is then removed), else a boot.</summary>
    public DomainRef Start(uint flags)
    {
        Flags.Check(flags, Flags.StartPaused);
        bool paused = (flags & Flags.StartPaused) != 0;
        lock (_operation)
        {
            RequireDefined();
            if (_run is not null) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: domain '{Name}' is already running");
            if (HasManagedSave)
            {
                StartFromSaveImage(Paths.ManagedSave, paused, StateReason.RunningRestored, LifecycleEvent.StartedRestored);
                // The memory file stays mapped by the VMM: unlinking it keeps its pages for the run (as Firecracker's snapshots).
                File.Delete(Paths.ManagedSave);
                File.Delete(SaveImage.MemoryPath(Paths.ManagedSave));
            }
            else
            {
                var taps = PlugNetworkTaps();
                try
                {
                    var config = MachineConfigForRun(taps);
                    Directory.CreateDirectory(Paths.Directory);
                    AtomicFile.WriteAllBytes(Paths.MachineConfig, System.Text.Encoding.UTF8.GetBytes(MachineConfigJson.Write(config)));
                    Launch(["--config", Paths.MachineConfig], paused, StateReason.RunningBooted, LifecycleEvent.StartedBooted, config, []);
                }
                catch
                {
                    UnplugNetworkTaps();
                    throw;
                }
            }
            return Ref;
        }
    }

    /// <summary>Starts a VMM from a save image or a snapshot: its state copied into the domain's directory, its memory mapped where it lies.</summary>
    private void StartFromState(byte[] vmmState, string memoryPath, bool paused, int runningReason, int startedDetail)
    {
        Directory.CreateDirectory(Paths.Directory);
        AtomicFile.WriteAllBytes(Paths.RestoreState, vmmState);
        PlugNetworkTaps(NetworkTapsInState(vmmState));
        try
        {
            Launch(["--restore", Paths.RestoreState, "--restore-mem", memoryPath], paused, runningReason, startedDetail,
                   ConfigInState(vmmState), [Paths.RestoreState, memoryPath]);
        }
        catch
        {
            UnplugNetworkTaps();
            throw;
        }
    }

    private void StartFromSaveImage(string path, bool paused, int runningReason, int startedDetail)
    {
        var (_, state) = SaveImage.Read(path);
        StartFromState(state, SaveImage.MemoryPath(path), paused, runningReason, startedDetail);
    }

    /// <summary>Starts the VMM, waits until its API answers with the machine started, attaches the console, records the run.</summary>
    /// <param name="config">The machine it runs (null: unknown), whose files the VMM is given, with <paramref name="extraReads"/>.</param>
    private void Launch(IReadOnlyList<string> source, bool paused, int runningReason, int startedDetail, MachineConfig? config, IReadOnlyList<string> extraReads)
    {
        foreach (var stale in (string[])[Paths.ApiSocket, Paths.ConsoleSocket])
            if (File.Exists(stale)) File.Delete(stale);
        var arguments = new List<string> { "run" };
        arguments.AddRange(source);
        arguments.AddRange(["--api-sock", Paths.ApiSocket, "--id", Name, "--console", $"socket:{Paths.ConsoleSocket}"]);
        if (_definition.OnReboot == LifecycleAction.Destroy) arguments.Add("--no-reboot");
        if (paused) arguments.Add("--paused");
        File.AppendAllText(Paths.VmmLog, $"---- {DateTime.UtcNow:O} starting: {string.Join(' ', arguments)}\n");

        var confinement = Confine(config, extraReads);
        VmmProcess process;
        try { process = VmmProcess.Start(_context.VmmProgram, arguments, Paths.VmmLog, confinement); }
        catch
        {
            Unconfine();
            throw;
        }
        int id = _context.NextId();
        var api = new VmmApiClient(Paths.ApiSocket, ApiTimeout);
        ConsoleRelay? console;
        try
        {
            WriteRecord(new VmmRecord(process.Pid, process.StartTime, id, Paths.ApiSocket, Paths.ConsoleSocket, Starting: true));
            FaultPoint.Reach("start.spawned");
            WaitUntilStarted(process, api);
            console = ConnectConsole(process);
        }
        catch
        {
            process.Kill();
            process.Exited.Wait(TimeSpan.FromSeconds(10));
            api.Dispose();
            process.Dispose();
            if (File.Exists(Paths.VmmRecord)) File.Delete(Paths.VmmRecord);
            Unconfine();
            throw;
        }
        var run = new DomainRun(id, process, api, console)
        {
            State = paused ? DomainState.Paused : DomainState.Running,
            Reason = paused ? StateReason.PausedUser : runningReason,
        };
        _run = run;
        WriteRecord(new VmmRecord(process.Pid, process.StartTime, run.Id, Paths.ApiSocket, Paths.ConsoleSocket));
        FaultPoint.Reach("start.recorded");
        Log.LogInformation("domain {Name}: started (id {Id}, VMM pid {Pid})", Name, run.Id, process.Pid);
        Raise(LifecycleEvent.Started, startedDetail);
        if (paused) Raise(LifecycleEvent.Suspended, LifecycleEvent.SuspendedPaused);
        Watch(run);
    }

    private void WriteRecord(VmmRecord record) => AtomicFile.WriteAllBytes(Paths.VmmRecord, System.Text.Encoding.UTF8.GetBytes(ToJson(record)));

    private void WaitUntilStarted(VmmProcess process, VmmApiClient api)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.Exited.IsCompleted)
                throw new ManagerException(ManagerError.OperationFailed, $"internal error: the VMM of domain '{Name}' ended at start: {LastLogLine()}");
            if (File.Exists(api.SocketPath))
            {
                try
                {
                    if (api.GetState() != "Not started") return;
                }
                catch (VmmApiException) { }
            }
            if (clock.Elapsed > ApiTimeout)
                throw new ManagerException(ManagerError.OperationFailed, $"internal error: the VMM of domain '{Name}' did not come up within {ApiTimeout.TotalSeconds:0} s");
            Thread.Sleep(20);
        }
    }

    /// <summary>The console socket is made as the machine starts, just after the API answers: a short wait.</summary>
    private ConsoleRelay? ConnectConsole(VmmProcess process)
    {
        if (_definition.ToMachineConfig(Paths.ConsoleSocket, Paths.VsockSocket).Console.Kind != ConsoleKind.Socket) return null;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && !process.Exited.IsCompleted)
        {
            if (ConsoleRelay.Connect(Paths.ConsoleSocket) is { } relay) return relay;
            Thread.Sleep(20);
        }
        Log.LogWarning("domain {Name}: its console socket never answered", Name);
        return null;
    }

    private string LastLogLine()
    {
        try
        {
            var line = File.ReadLines(Paths.VmmLog).LastOrDefault(l => l.Length > 0 && !l.StartsWith("----", StringComparison.Ordinal));
            return line ?? "it printed nothing";
        }
        catch (IOException) { return "its log cannot be read"; }
    }

    private void Watch(DomainRun run) => run.Process.Exited.ContinueWith(t => OnVmmEnded(run, t.Result), TaskScheduler.Default);

    /// <summary>The VMM ended by itself (guest power-off, a crash, kill -9) or as the daemon asked; applies the domain's on_* action.</summary>
    private void OnVmmEnded(DomainRun run, int? exitStatus)
    {
        lock (_operation)
        {
            if (run.Finished) return;
            if (run.EndingAs is { } asked)
            {
                Finish(run, asked);
                return;
            }
            bool clean = exitStatus == 0 || (exitStatus is null && EndedCleanlyByLog());
            Log.LogInformation("domain {Name}: VMM {Pid} ended ({How})", Name, run.Process.Pid,
                exitStatus is { } s ? $"exit status {s}" : clean ? "the guest powered off" : "without a word: crashed or killed");
            if (clean)
            {
                Raise(LifecycleEvent.Shutdown, LifecycleEvent.ShutdownFinished);
                Finish(run, StateReason.ShutoffShutdown);
                if (_definition.OnPoweroff == LifecycleAction.Restart) RestartAfter("power-off");
            }
            else
            {
                Finish(run, StateReason.ShutoffCrashed);
                if (_definition.OnCrash == LifecycleAction.Restart) RestartAfter("crash");
            }
        }
    }

    /// <summary>
    /// A VMM this daemon did not start has no exit status for us; its log's last line says whether it ended well (the
    /// VMM runs with KVMSHARP_VERBOSE=1, which prints how the machine ended). Killed or crashed, it printed no such line.
    /// </summary>
    private bool EndedCleanlyByLog()
    {
        string last = LastLogLine();
        return last.StartsWith("kvmsharp: ended: ", StringComparison.Ordinal) && last.EndsWith("(exit status 0)", StringComparison.Ordinal);
    }

    private void RestartAfter(string what)
    {
        try
        {
            PlugNetworkTaps(NetworkTapsInConfigFile());
            Launch(["--config", Paths.MachineConfig], paused: false, StateReason.RunningBooted, LifecycleEvent.StartedBooted, ConfigInFile(), []);
        }
        catch (ManagerException e)
        {
            UnplugNetworkTaps();
            Log.LogError("domain {Name}: restart after {What} failed: {Message}", Name, what, e.Message);
        }
    }

    /// <summary>Applies the end of <paramref name="run"/>: state shut off with <paramref name="reason"/>, the event, the run's files gone.</summary>
    private void Finish(DomainRun run, int reason)
    {
        if (run.Finished) return;
        run.Finished = true;
        if (_run == run) _run = null;
        _shutoffReason = reason;
        run.Dispose();
        UnplugNetworkTaps();
        Unconfine();
        foreach (var file in (string[])[Paths.VmmRecord, Paths.ApiSocket, Paths.ConsoleSocket, Paths.RestoreState])
        {
            try { if (File.Exists(file)) File.Delete(file); }
            catch (IOException) { }
        }
        int detail = reason switch
        {
            StateReason.ShutoffShutdown => LifecycleEvent.StoppedShutdown,
            StateReason.ShutoffDestroyed => LifecycleEvent.StoppedDestroyed,
            StateReason.ShutoffSaved => LifecycleEvent.StoppedSaved,
            StateReason.ShutoffFromSnapshot => LifecycleEvent.StoppedFromSnapshot,
            _ => LifecycleEvent.StoppedFailed,
        };
        Raise(LifecycleEvent.Stopped, detail);
    }

    /// <summary>Ends the run at once (SIGKILL) and applies it as <paramref name="reason"/>; the caller holds the operation lock.</summary>
    private void EndRun(DomainRun run, int reason)
    {
        run.EndingAs = reason;
        run.Process.Kill();
        if (!run.Process.Exited.Wait(TimeSpan.FromSeconds(30)))
            throw new ManagerException(ManagerError.OperationFailed, $"the VMM of domain '{Name}' (pid {run.Process.Pid}) did not end after SIGKILL");
        Finish(run, reason);
    }

    public void Destroy(uint flags)
    {
        Flags.Check(flags, Flags.DestroyGraceful);
        lock (_operation) EndRun(RequireRun("destroy"), StateReason.ShutoffDestroyed);
    }

    public void Shutdown(uint flags)
    {
        Flags.Check(flags, Flags.ShutdownAcpiPowerButton);
        lock (_operation) Drive(RequireRun("shut down"), api => api.Action("Shutdown"));
    }

    public void Reboot(uint flags)
    {
        Flags.Check(flags, Flags.RebootAcpiPowerButton);
        lock (_operation) Drive(RequireRun("reboot"), api => api.Action("Reboot"));
    }

    public void Suspend()
    {
        lock (_operation)
        {
            var run = RequireRun("suspend");
            if (run.State == DomainState.Paused) return;
            Drive(run, api => api.Pause());
            run.State = DomainState.Paused;
            run.Reason = StateReason.PausedUser;
            Raise(LifecycleEvent.Suspended, LifecycleEvent.SuspendedPaused);
        }
    }

    public void Resume()
    {
        lock (_operation)
        {
            var run = RequireRun("resume");
            if (run.State != DomainState.Paused)
                throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: domain '{Name}' is not paused");
            Drive(run, api => api.Resume());
            run.State = DomainState.Running;
            run.Reason = StateReason.RunningUnpaused;
            Raise(LifecycleEvent.Resumed, LifecycleEvent.ResumedUnpaused);
        }
    }

    public IConsoleSession OpenConsole(string? device, uint flags, IConsoleSink sink)
    {
        Flags.Check(flags, Flags.ConsoleForce | Flags.ConsoleSafe);
        if (device is not null && device is not ("serial0" or "console0"))
            throw new ManagerException(ManagerError.InvalidArg, $"cannot find character device {device}");
        var run = RequireRun("open the console of");
        var relay = run.Console ?? throw new ManagerException(ManagerError.OperationUnsupported, $"domain '{Name}' has no serial console");
        return relay.Attach(sink, (flags & Flags.ConsoleForce) != 0);
    }

    private void Drive(DomainRun run, Action<VmmApiClient> call)
    {
        try
        {
            call(run.Api);
        }
        catch (VmmApiException e)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: {e.Message}", e);
        }
    }

    /// <summary>
    /// After a daemon restart: finds the domain's VMM again from its record (same pid and start time, API answering)
    /// and takes up its console; a record whose process is gone is cleared as a run that ended unseen.
    /// </summary>
    public void Reattach()
    {
        lock (_operation)
        {
            if (!File.Exists(Paths.VmmRecord)) return;
            var record = ReadRecord(Paths.VmmRecord);
            var process = record is null ? null : VmmProcess.Find(record.Pid, record.StartTime);
            if (record is null || process is null)
            {
                Log.LogWarning("domain {Name}: its VMM ended while the daemon was away", Name);
                File.Delete(Paths.VmmRecord);
                UnplugNetworkTaps();
                Unconfine();
                _shutoffReason = EndedCleanlyByLog() ? StateReason.ShutoffShutdown : StateReason.ShutoffCrashed;
                return;
            }
            if (record.Starting)
            {
                // The daemon died inside Start: its caller got no answer, so the run is ended, not adopted half-made.
                Log.LogWarning("domain {Name}: its start was interrupted by the daemon's end; ending VMM {Pid}", Name, record.Pid);
                process.Kill();
                process.Exited.Wait(TimeSpan.FromSeconds(30));
                process.Dispose();
                File.Delete(Paths.VmmRecord);
                UnplugNetworkTaps();
                Unconfine();
                _shutoffReason = StateReason.ShutoffFailed;
                return;
            }
            var api = new VmmApiClient(record.ApiSocket, ApiTimeout);
            string state;
            try { state = api.GetState(); }
            catch (VmmApiException e)
            {
                Log.LogWarning("domain {Name}: VMM {Pid} runs but its API does not answer ({Message}); leaving it alone", Name, record.Pid, e.Message);
                api.Dispose();
                process.Dispose();
                return;
            }
            var run = new DomainRun(record.Id, process, api, ConsoleRelay.Connect(record.ConsoleSocket))
            {
                State = state == "Paused" ? DomainState.Paused : DomainState.Running,
                Reason = state == "Paused" ? StateReason.PausedUser : StateReason.RunningBooted,
            };
            _context.SeenId(record.Id);
            _run = run;
            Log.LogInformation("domain {Name}: reattached to its VMM (pid {Pid}, id {Id}, {State})", Name, record.Pid, record.Id, state);
            Watch(run);
        }
    }
}
