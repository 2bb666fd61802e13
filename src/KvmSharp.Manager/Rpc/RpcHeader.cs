using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// A packet's header after its length word (virNetMessageHeader). Serials are echoed, never validated: virsh 9.0
/// starts at 0 although rpc.rst says 1.
/// </summary>
public readonly record struct RpcHeader(uint Program, uint Version, int Procedure, RpcMessageType Type, uint Serial, RpcMessageStatus Status)
{
    /// <summary>The length word plus the six header words.</summary>
    public const int SizeWithLength = 28;

    public static RpcHeader Decode(ref XdrReader reader) =>
        new(reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadInt32(), (RpcMessageType)reader.ReadInt32(),
            reader.ReadUInt32(), (RpcMessageStatus)reader.ReadInt32());

    public void Encode(XdrWriter writer)
    {
        writer.WriteUInt32(Program);
        writer.WriteUInt32(Version);
        writer.WriteInt32(Procedure);
        writer.WriteInt32((int)Type);
        writer.WriteUInt32(Serial);
        writer.WriteInt32((int)Status);
    }

    /// <summary>The header of this call's reply, or of a stream packet of the same call.</summary>
    public RpcHeader Answer(RpcMessageType type, RpcMessageStatus status) => this with { Type = type, Status = status };
}
