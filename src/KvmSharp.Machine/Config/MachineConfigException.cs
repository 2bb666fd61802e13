namespace KvmSharp.Machine.Config;

/// <summary>A machine definition that cannot be built; the message is for the user.</summary>
public sealed class MachineConfigException(string message) : Exception(message);
