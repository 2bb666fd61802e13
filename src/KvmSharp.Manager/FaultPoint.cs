namespace KvmSharp.Manager;

/// <summary>
/// Named points in the daemon's multi-step operations (define, start, snapshot) where a test can make it stop, so it
/// can be killed with -9 exactly there and the restart's recovery checked. The environment variable
/// KVMSHARPD_FAULT_POINT names one point; the daemon reaching it says so on stderr and waits forever. Unset (every
/// real run), <see cref="Reach"/> does nothing.
/// </summary>
public static class FaultPoint
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("KVMSHARPD_FAULT_POINT");

    public static void Reach(string name)
    {
        if (Armed is null || !string.Equals(Armed, name, StringComparison.Ordinal)) return;
        Console.Error.WriteLine($"kvmsharpd: fault point {name} reached; waiting to be killed");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
