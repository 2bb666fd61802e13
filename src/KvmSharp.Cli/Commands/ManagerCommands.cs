using System.CommandLine;
using KvmSharp.Manager;
using KvmSharp.Native.Libc;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// <c>kvmsharp daemon …</c> becomes kvmsharpd (the manager daemon, a binary of its own beside this one);
/// <c>kvmsharp virsh …</c> becomes the system's virsh, connected to that daemon's socket, so nobody has to remember
/// the URI. Both exec: same pid, signals and terminal as the command the user typed.
/// </summary>
internal static class ManagerCommands
{
    public static Command Daemon()
    {
        var command = new Command("daemon", "Run the manager daemon (kvmsharpd): domains defined in libvirt's XML, driven by virsh and python-libvirt. Its options: --state-dir DIR, --socket PATH, --vmm PATH")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string daemon = ManagerPaths.DefaultDaemon;
            if (!File.Exists(daemon))
            {
                UserErrors.Fail($"the daemon binary '{daemon}' is missing; build it with ./kvmsharp (the launcher builds both)");
                return UserErrors.ExitFailure;
            }
            return Become(daemon, [.. result.UnmatchedTokens]);
        }));
        return command;
    }

    public static Command Virsh()
    {
        var command = new Command("virsh", $"Run the system's virsh on the KvmSharp daemon's socket (default {ManagerPaths.DefaultSocket}; KVMSHARP_SOCKET overrides): kvmsharp virsh list --all")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string? virsh = FindOnPath("virsh");
            if (virsh is null)
            {
                UserErrors.Fail("virsh is not installed; on Debian: apt-get install libvirt-clients");
                return UserErrors.ExitFailure;
            }
            string socket = Environment.GetEnvironmentVariable("KVMSHARP_SOCKET") is { Length: > 0 } s ? s : ManagerPaths.DefaultSocket;
            return Become(virsh!, ["-c", ManagerPaths.Uri(socket), .. result.UnmatchedTokens]);
        }));
        return command;
    }

    private static int Become(string program, IReadOnlyList<string> arguments)
    {
        Console.Out.Flush();
        Exec.Replace(program, arguments);   // a NativeException (cannot run it) becomes one line in Guard
        return UserErrors.ExitFailure;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}
