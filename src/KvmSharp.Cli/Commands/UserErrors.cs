using KvmSharp.Accelerators;
using KvmSharp.Boot;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// Runs a command body and turns the errors a user can cause into one line on stderr and exit status 1:
/// never a stack trace for a bad flag, a missing or malformed kernel, a host without KVM, or a default
/// guest that cannot be fetched.
/// </summary>
internal static class UserErrors
{
    public const int ExitFailure = 1;

    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is MachineConfigException or GuestImageException or BootImageException or AcceleratorException
                                      or NativeException or GuestMemoryException or IOException or UnauthorizedAccessException
                                      or KvmSharp.Machine.Migration.MigrationException or KvmSharp.State.StateException or KvmSharp.Machine.Control.MachinePhaseException
                                      or KvmSharp.Machine.Sandbox.SandboxException)
        {
            Fail(e.Message);
            return ExitFailure;
        }
    }

    public static void Fail(string message) => Console.Error.WriteLine($"kvmsharp: error: {message}");
}
