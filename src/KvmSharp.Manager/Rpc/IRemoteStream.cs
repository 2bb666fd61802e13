namespace KvmSharp.Manager.Rpc;

/// <summary>A libvirt stream of one call (a console, a volume upload or download): STREAM packets with the call's procedure and serial.</summary>
internal interface IRemoteStream
{
    int Procedure { get; }

    /// <summary>A STREAM packet from the client.</summary>
    void Receive(RpcMessageStatus status, ReadOnlySpan<byte> payload);

    /// <summary>The connection is going: release everything without sending.</summary>
    void Abandon();
}
