namespace KvmSharp.Machine.Control;

/// <summary>An action asked of a machine in a phase that does not allow it (e.g. pausing one not started); the message is for the user.</summary>
public sealed class MachinePhaseException(string message) : Exception(message);
