namespace KvmSharp.Manager.Rpc.Xdr;

/// <summary>The bounds libvirt's remote protocol puts on variable-length data (remote_protocol.x, as the 9.0 client enforces them).</summary>
public static class XdrLimits
{
    /// <summary>REMOTE_STRING_MAX: a longer string is "Unable to decode message payload" for the 9.0 client.</summary>
    public const int StringMax = 4 * 1024 * 1024;
}
