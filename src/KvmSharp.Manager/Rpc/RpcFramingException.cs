namespace KvmSharp.Manager.Rpc;

/// <summary>A packet whose framing cannot be trusted (a length out of bounds, a header cut short): the connection is closed.</summary>
public sealed class RpcFramingException(string message) : Exception(message);
