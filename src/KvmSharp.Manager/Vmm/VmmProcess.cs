using System.Diagnostics;
using KvmSharp.Manager.Confinement;
using KvmSharp.Native.Libc;

namespace KvmSharp.Manager.Vmm;

/// <summary>
/// One running VMM (a <c>kvmsharp run</c> process), started by this daemon or found again after a restart.
/// It runs in a session of its own with its output in a log file, so the daemon's end (a crash, SIGTERM,
/// an upgrade) does not end it: restarting the daemon leaves VMs running, as libvirtd does.
/// </summary>
public sealed class VmmProcess : IDisposable
{
    private readonly Process? _child;
    private readonly ProcessWatch? _watch;

    private VmmProcess(int pid, ulong startTime, Process? child, ProcessWatch? watch)
    {
        Pid = pid;
        StartTime = startTime;
        _child = child;
        _watch = watch;
        Exited = child is not null ? WaitForChild(child) : WaitForWatched(watch!);
    }

    public int Pid { get; }

    /// <summary>The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid, its identity.</summary>
    public ulong StartTime { get; }

    /// <summary>Completes when the process has ended: its exit status when this daemon started it, else null (unknown).</summary>
    public Task<int?> Exited { get; }

    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="arguments"/>, stdin from /dev/null, stdout and stderr appended
    /// to <paramref name="logPath"/>, confined as <paramref name="confinement"/> says (<see cref="LaunchScript"/>).
    /// </summary>
    public static VmmProcess Start(string program, IReadOnlyList<string> arguments, string logPath, VmmConfinement? confinement = null)
    {
        confinement ??= VmmConfinement.None;
        // Every step execs the next (sh, unshare, sh, setsid, setpriv, the VMM): one pid all along, so the Process
        // object reports the VMM's own exit status, and the pid written to the cgroup is the VMM's.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(LaunchScript.Outer);
        start.ArgumentList.Add(program);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["KVMSHARP_VMM_LOG"] = logPath;
        start.Environment["KVMSHARP_VERBOSE"] = "1";   // a clean end leaves "kvmsharp: ended: … (exit status N)" as the log's last line
        LaunchScript.Describe(confinement, start.Environment);
        var child = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        return new VmmProcess(child.Id, ProcStat.StartTime(child.Id) ?? 0, child, null);
    }

    /// <summary>The process <paramref name="pid"/> when it still runs and started at <paramref name="startTime"/> (not a reused pid); else null.</summary>
    public static VmmProcess? Find(int pid, ulong startTime)
    {
        if (pid <= 0 || ProcStat.StartTime(pid) != startTime) return null;
        var watch = ProcessWatch.Open(pid);
        if (watch is null) return null;
        if (ProcStat.StartTime(pid) != startTime)   // it ended and the pid was taken between the two reads
        {
            watch.Dispose();
            return null;
        }
        return new VmmProcess(pid, startTime, null, watch);
    }

    /// <summary>SIGKILL: destroy, as libvirt's virDomainDestroy does after SIGTERM times out.</summary>
    public void Kill()
    {
        if (_child is not null)
        {
            try { _child.Kill(); } catch (InvalidOperationException) { }   // already ended
        }
        else if (!Exited.IsCompleted)
        {
            LibcImports.Kill(Pid, 9);   // the pidfd proved it is still our process; a race to its end is harmless
        }
    }

    private static async Task<int?> WaitForChild(Process child)
    {
        await child.WaitForExitAsync().ConfigureAwait(false);
        return child.ExitCode;
    }

    private static Task<int?> WaitForWatched(ProcessWatch watch)
    {
        var ended = new TaskCompletionSource<int?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try { watch.WaitForExit(-1); }
            catch (NativeException) { }
            ended.TrySetResult(null);
        }) { IsBackground = true, Name = $"watch VMM {watch.Pid}" };
        thread.Start();
        return ended.Task;
    }

    public void Dispose()
    {
        _child?.Dispose();
        _watch?.Dispose();
    }
}
