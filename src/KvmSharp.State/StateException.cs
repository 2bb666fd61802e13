namespace KvmSharp.State;

/// <summary>
/// Saved state that cannot be loaded: truncated, corrupt, from another format version, or naming a value
/// outside what the component accepts. The message is one line for the user and names the field.
/// </summary>
public sealed class StateException(string message) : Exception(message);
