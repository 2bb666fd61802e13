namespace KvmSharp.Manager.Rpc.Xdr;

/// <summary>A payload that is short, malformed or over a limit: one line saying what and where.</summary>
public sealed class XdrException(string message) : Exception(message);
