using System.Globalization;

namespace KvmSharp.Manager.Vmm;

/// <summary>Reads /proc/PID/stat (proc(5)).</summary>
internal static class ProcStat
{
    /// <summary>Field 22, starttime, in clock ticks since boot; null when the process is gone.</summary>
    public static ulong? StartTime(int pid) => Field(pid, 22);

    /// <summary>Fields 14 and 15, utime + stime, in clock ticks.</summary>
    public static ulong? CpuTicks(int pid) => Field(pid, 14) + Field(pid, 15);

    private static ulong? Field(int pid, int number)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The command name (field 2) is in parentheses and may hold spaces or ')': fields 3… follow the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        var rest = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int index = number - 3;
        return index < rest.Length && ulong.TryParse(rest[index], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}
