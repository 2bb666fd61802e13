namespace KvmSharp.Machine.Runtime;

public enum MachineExitReason
{
    /// <summary>The guest powered off (ACPI S5).</summary>
    PowerOff,
    /// <summary>The guest asked for a reset (i8042, ACPI reset register, triple fault); resets end the run.</summary>
    Reset,
    /// <summary>The guest wrote to the isa-debug-exit port.</summary>
    DebugExit,
    /// <summary>The host asked the machine to stop (Ctrl-A x, an API call).</summary>
    Stopped,
    /// <summary>The accelerator could not go on; <see cref="MachineExit.Message"/> says why.</summary>
    Failed,
}

/// <summary>How a machine's run ended and the process status that goes with it.</summary>
public sealed record MachineExit(MachineExitReason Reason, int ExitStatus, string Message);
