namespace KvmSharp.Devices;

/// <summary>How a guest asked the machine to stop.</summary>
public enum StopRequest
{
    /// <summary>ACPI S5 soft-off: the process exits with status 0.</summary>
    PowerOff,
    /// <summary>i8042 pulse, ACPI reset register or triple fault: the VM is reset (or ends, if resets are disabled).</summary>
    Reset,
    /// <summary>isa-debug-exit: the process exits with the status the guest chose.</summary>
    DebugExit,
}

/// <summary>What a device may ask of the machine it lives in. Implemented by the machine layer; safe from any thread.</summary>
public interface IMachineControl
{
    /// <summary>Asks the machine to stop all vCPUs and end the run; <paramref name="exitStatus"/> is the process status.</summary>
    void RequestStop(StopRequest request, int exitStatus);
}
