namespace KvmSharp.Manager;

/// <summary>The manager daemon's default locations: system-wide as root (like qemu:///system), per user otherwise (qemu:///session).</summary>
public static class ManagerPaths
{
    private static bool IsRoot => Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root";

    public static string DefaultStateDirectory => IsRoot ? "/var/lib/kvmsharp" : Path.Combine(UserStateHome, "kvmsharp");

    public static string DefaultSocket => IsRoot ? "/run/kvmsharp/libvirt-sock" : Path.Combine(UserRuntimeDirectory, "kvmsharp", "libvirt-sock");

    /// <summary>$XDG_STATE_HOME, else ~/.local/state (XDG Base Directory Specification).</summary>
    private static string UserStateHome => Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } state ? state
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");

    /// <summary>$XDG_RUNTIME_DIR, else the state directory (a user without a login session has none).</summary>
    private static string UserRuntimeDirectory => Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } run ? run : UserStateHome;

    /// <summary>The VMM program: <c>kvmsharp</c> beside the running binary.</summary>
    public static string DefaultVmm => Path.Combine(AppContext.BaseDirectory, "kvmsharp");

    /// <summary>The daemon: <c>kvmsharpd</c> beside the running binary.</summary>
    public static string DefaultDaemon => Path.Combine(AppContext.BaseDirectory, "kvmsharpd");

    /// <summary>The libvirt URI of the daemon's socket: virsh -c URI, libvirt.open(URI).</summary>
    public static string Uri(string socketPath) => $"kvmsharp+unix:///system?socket={socketPath}";
}
