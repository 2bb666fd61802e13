namespace KvmSharp.Manager.Rpc.Remote;

/// <summary>The array bounds of remote_protocol.x that the procedures we serve use (the client checks them too).</summary>
public static class RemoteLimits
{
    public const int AuthTypeListMax = 20;
    public const int DomainListMax = 16384;
    public const int DomainIdListMax = 16384;
    public const int DomainNameListMax = 16384;
    public const int SnapshotListMax = 16384;
    public const int VcpuInfoMax = 16384;
    public const int CpuMapsMax = 8388608;
    public const int CpuMapMax = 2048;
    public const int SecurityModelMax = 257;
    public const int SecurityDoiMax = 257;
    public const int DomainMessagesMax = 2048;
    public const int NodeModelChars = 32;
}
