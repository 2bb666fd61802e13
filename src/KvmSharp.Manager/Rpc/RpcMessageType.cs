namespace KvmSharp.Manager.Rpc;

/// <summary>virNetMessageType (src/rpc/virnetprotocol.x): what a packet is.</summary>
public enum RpcMessageType
{
    Call = 0,
    Reply = 1,
    /// <summary>An event or a keepalive; serial 0, no reply.</summary>
    Message = 2,
    Stream = 3,
    CallWithFds = 4,
    ReplyWithFds = 5,
    /// <summary>A sparse stream's hole; we never send one.</summary>
    StreamHole = 6,
}

/// <summary>virNetMessageStatus: OK, ERROR (the payload is a remote_error), CONTINUE (stream data follows).</summary>
public enum RpcMessageStatus
{
    Ok = 0,
    Error = 1,
    Continue = 2,
}
