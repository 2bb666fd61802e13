using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc.Remote;

/// <summary>
/// remote_error (same layout as virNetMessageError): int code; int domain; remote_string message; int level;
/// remote_domain dom; remote_string str1, str2, str3; int int1; int int2; remote_network net. We fill code, domain
/// and message, level 2 (VIR_ERR_ERROR), and leave every pointer NULL; virsh prints the message verbatim.
/// </summary>
public sealed record RemoteError(int Code, int Domain, string Message)
{
    public const int LevelError = 2;

    /// <summary>VIR_ERR_RPC: a payload we could not decode.</summary>
    public const int CodeRpc = 39;
    public const int FromRpc = 7;
    public const int FromDomain = 20;
    public const int FromDomainSnapshot = 35;
    public const int FromStorage = 18;

    public void Encode(XdrWriter writer)
    {
        writer.WriteInt32(Code);
        writer.WriteInt32(Domain);
        writer.WriteOptionalString(Message.Length <= 4096 ? Message : Message[..4096]);
        writer.WriteInt32(LevelError);
        writer.WritePresent(false);          // dom
        writer.WriteOptionalString(null);    // str1
        writer.WriteOptionalString(null);    // str2
        writer.WriteOptionalString(null);    // str3
        writer.WriteInt32(0);                // int1
        writer.WriteInt32(0);                // int2
        writer.WritePresent(false);          // net
    }

    public static RemoteError Decode(ref XdrReader reader)
    {
        int code = reader.ReadInt32();
        int domain = reader.ReadInt32();
        string? message = reader.ReadOptionalString();
        reader.ReadInt32();
        if (reader.ReadPresent()) RemoteWire.ReadDomain(ref reader);
        reader.ReadOptionalString();
        reader.ReadOptionalString();
        reader.ReadOptionalString();
        reader.ReadInt32();
        reader.ReadInt32();
        if (reader.ReadPresent()) { reader.ReadString(); reader.ReadUuid(); }
        return new RemoteError(code, domain, message ?? "");
    }
}
