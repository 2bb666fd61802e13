namespace KvmSharp.Fuzz;

/// <summary>A failure a target detects itself (a device's "unexpected" reset, a hang, a round trip that differs): always a finding.</summary>
public sealed class FuzzFinding(string message) : Exception(message);
