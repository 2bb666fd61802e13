using System.Diagnostics;
using System.Globalization;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Vmm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// Debian's dnsmasq (package dnsmasq-base) serving one network. It daemonizes itself (its parent returns once the
/// child is ready or has failed), so it outlives a daemon restart as the VMMs do; it is known by its pid file and
/// found again by pid, start time and its conf file on the command line.
/// </summary>
internal static class DnsmasqProcess
{
    public const string Program = "/usr/sbin/dnsmasq";
    private const int SIGTERM = 15, SIGKILL = 9;

    /// <summary>Starts dnsmasq with <paramref name="confFile"/>; returns its pid and start time.</summary>
    public static (int Pid, ulong StartTime) Start(string confFile, string pidFile)
    {
        if (!File.Exists(Program))
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: {Program} is missing; install Debian's dnsmasq-base");
        if (File.Exists(pidFile)) File.Delete(pidFile);
        // Its output goes to a file, not a pipe: the daemonized child could hold a pipe open and our read never end.
        string log = Path.ChangeExtension(confFile, ".log");
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$0\" --conf-file=\"$1\" </dev/null >\"$2\" 2>&1");
        start.ArgumentList.Add(Program);
        start.ArgumentList.Add(confFile);
        start.ArgumentList.Add(log);
        using (var parent = Process.Start(start) ?? throw new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot start {Program}"))
        {
            parent.WaitForExit();
            if (parent.ExitCode != 0)
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: dnsmasq did not start: {LogText(log)}");
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (ReadPid(pidFile) is { } pid && ProcStat.StartTime(pid) is { } startTime) return (pid, startTime);
            Thread.Sleep(20);
        }
        throw new ManagerException(ManagerError.OperationFailed, $"operation failed: dnsmasq wrote no pid file {pidFile}");
    }

    /// <summary>Whether <paramref name="pid"/> is still the dnsmasq we started with <paramref name="confFile"/>.</summary>
    public static bool IsRunning(int pid, ulong startTime, string confFile)
    {
        if (pid <= 0 || ProcStat.StartTime(pid) != startTime || IsZombie(pid)) return false;
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(confFile, StringComparison.Ordinal); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>SIGTERM, then SIGKILL after 5 s; returns once it is gone (or a zombie, whose reaping is init's).</summary>
    public static void Stop(int pid, ulong startTime, string confFile)
    {
        if (!IsRunning(pid, startTime, confFile)) return;
        LibcImports.Kill(pid, SIGTERM);
        var clock = Stopwatch.StartNew();
        while (IsRunning(pid, startTime, confFile))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) LibcImports.Kill(pid, SIGKILL);
            if (clock.Elapsed > TimeSpan.FromSeconds(15))
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: dnsmasq (pid {pid}) did not end");
            Thread.Sleep(20);
        }
    }

    private static string LogText(string log)
    {
        try { return File.ReadAllText(log).Trim().ReplaceLineEndings(" "); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "it said nothing"; }
    }

    private static int? ReadPid(string pidFile)
    {
        try
        {
            return int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Field 3 of /proc/PID/stat is the state; Z: ended, waiting for its parent (init) to reap it.</summary>
    private static bool IsZombie(int pid)
    {
        try
        {
            string text = File.ReadAllText($"/proc/{pid}/stat");
            int close = text.LastIndexOf(')');
            return close < 0 || close + 2 >= text.Length || text[close + 2] is 'Z' or 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return true; }
    }
}
