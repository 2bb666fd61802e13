namespace KvmSharp.Manager.Rpc;

/// <summary>One CALL being handled: its connection, its header, and what must happen once its reply is queued.</summary>
internal sealed class RemoteCall(RemoteSession session, RpcHeader header)
{
    public RemoteSession Session { get; } = session;
    public RpcHeader Header { get; } = header;

    /// <summary>Run after the OK reply is queued (a console's data must follow its reply), never after an error.</summary>
    public Action? AfterReply { get; set; }

    /// <summary>Run when the call fails after the handler did something that must be undone (an opened console).</summary>
    public Action? OnFailure { get; set; }
}
