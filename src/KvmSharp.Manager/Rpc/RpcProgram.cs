namespace KvmSharp.Manager.Rpc;

/// <summary>The program numbers a libvirt client speaks (virnetprotocol.x, virkeepaliveprotocol.x); version 1 for all.</summary>
public static class RpcProgram
{
    public const uint Remote = 0x20008086;
    public const uint Qemu = 0x20008087;
    /// <summary>"keep": PING 1 and PONG 2, empty MESSAGE packets with serial 0.</summary>
    public const uint Keepalive = 0x6b656570;
    public const uint Version = 1;

    public const int KeepalivePing = 1;
    public const int KeepalivePong = 2;
}
