using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Sandbox;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// For the sandbox's own tests: with KVMSHARP_SANDBOX_TEST set, a confined VMM makes a call its sandbox should
/// refuse, right after confining itself: `ptrace` (ptrace(PTRACE_TRACEME)), `socket-packet` (socket(AF_PACKET,
/// SOCK_RAW)) or `open:PATH` (open(PATH) on a thread started after the sandbox, as a device thread is; the result
/// goes to stderr). Not a hole: it runs only inside the sandbox, after it is closed, so it can do nothing the
/// sandbox allows any other code in the VMM to do; and whoever sets a VMM's environment could already do far
/// more (LD_PRELOAD). The daemon starts VMMs with its own environment, never a client's.
/// </summary>
public static class SandboxTestHook
{
    public const string Variable = "KVMSHARP_SANDBOX_TEST";

    public static void RunIfAsked(SandboxOptions options)
    {
        if (!options.Enabled || !VmmSandbox.Applied || Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } test) return;
        switch (test)
        {
            case "ptrace":
                SandboxImports.Syscall(SyscallNumbers.Of("ptrace"), 0, 0, 0);
                break;
            case "socket-packet":
                SandboxImports.Syscall(SyscallNumbers.Of("socket"), 17, 3, 0);
                break;
            case ['o', 'p', 'e', 'n', ':', .. var path]:
                var thread = new Thread(() => TryOpen(path)) { Name = "sandbox-test" };
                thread.Start();
                thread.Join();
                return;
            default:
                System.Console.Error.WriteLine($"kvmsharp: sandbox test: unknown {Variable} value '{test}'");
                return;
        }
        System.Console.Error.WriteLine($"kvmsharp: sandbox test: {test} was allowed");
    }

    private static void TryOpen(string path)
    {
        using var fd = new FileDescriptor(LibcImports.Open(path, LibcConstants.O_RDONLY | LibcConstants.O_CLOEXEC, 0));
        System.Console.Error.WriteLine(fd.IsInvalid
            ? $"kvmsharp: sandbox test: open {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}"
            : $"kvmsharp: sandbox test: open {path}: opened");
    }
}
