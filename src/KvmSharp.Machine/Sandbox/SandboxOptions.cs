namespace KvmSharp.Machine.Sandbox;

/// <summary>What a refused system call does: end the VMM naming the call (the default), or only log it (to find what a list lacks).</summary>
public enum SeccompMode
{
    Kill,
    Log,
}

/// <summary>
/// How a VMM process confines itself (`kvmsharp run --sandbox on|off --seccomp kill|log`). A property of the
/// process, not of the machine: it is not in MachineConfig, so a snapshot or a migration does not carry the
/// source's choice to the process that restores it; each `run` says its own.
/// </summary>
/// <param name="Enabled">Confine the process (the default); false runs it unconfined.</param>
/// <param name="Seccomp">What a refused system call does.</param>
/// <param name="ApiSocket">The per-VM API's socket: its folder stays writable (snapshot and migration files).</param>
public sealed record SandboxOptions(bool Enabled = true, SeccompMode Seccomp = SeccompMode.Kill, string? ApiSocket = null);
