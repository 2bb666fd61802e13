namespace KvmSharp.Machine.Control;

/// <summary>Where a machine is in its life; the names are Firecracker's instance states.</summary>
public enum MachinePhase
{
    /// <summary>Defined, not booted: the configuration may still change.</summary>
    NotStarted,
    Running,
    /// <summary>vCPUs parked, devices quiesced, guest time stopped.</summary>
    Paused,
    /// <summary>Powered off, stopped or failed; <see cref="MachineController.Exit"/> says how.</summary>
    Ended,
}
