using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Machine.Control;

/// <summary>How a <see cref="MachineController"/> runs its machine, beyond the machine's own configuration.</summary>
public sealed record MachineControllerOptions
{
    /// <summary>A guest reset ends the machine instead of booting it again (QEMU's <c>-no-reboot</c>).</summary>
    public bool NoReboot { get; init; }

    /// <summary>Where one-line notices for the user go.</summary>
    public Action<string> Notices { get; init; } = _ => { };

    /// <summary>COM1's host end instead of the one the configuration names; the caller keeps ownership.</summary>
    public ConsoleBackend? Console { get; init; }

    /// <summary>Applied to the builder of every boot (e.g. where COM2 goes).</summary>
    public Action<MachineBuilder>? ConfigureBuilder { get; init; }

    /// <summary>
    /// Called once per controller, with the machine's configuration, after its first boot (or restore) is built and
    /// before any guest instruction runs: where the VMM process confines itself (Sandbox/VmmSandbox). A failure
    /// ends the start with its message; nothing runs.
    /// </summary>
    public Action<MachineConfig>? BeforeGuestRuns { get; init; }
}
