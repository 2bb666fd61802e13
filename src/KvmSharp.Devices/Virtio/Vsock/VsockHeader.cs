using System.Buffers.Binary;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>Packet operations (virtio 1.2 §5.10.6).</summary>
public enum VsockOp : ushort
{
    Invalid = 0,
    Request = 1,
    Response = 2,
    Rst = 3,
    Shutdown = 4,
    ReadWrite = 5,
    CreditUpdate = 6,
    CreditRequest = 7,
}

/// <summary>
/// The 44-byte header in front of every vsock packet (virtio 1.2 §5.10.6), little-endian:
/// le64 src_cid, le64 dst_cid, le32 src_port, le32 dst_port, le32 len, le16 type, le16 op, le32 flags,
/// le32 buf_alloc, le32 fwd_cnt.
/// </summary>
public readonly record struct VsockHeader(
    ulong SrcCid, ulong DstCid, uint SrcPort, uint DstPort, uint Length, ushort Type, VsockOp Op, uint Flags, uint BufAlloc, uint FwdCnt)
{
    public const int Size = 44;

    /// <summary>VIRTIO_VSOCK_TYPE_STREAM (§5.10.6); the only type we offer (no SEQPACKET feature).</summary>
    public const ushort TypeStream = 1;

    /// <summary>The host's CID (§5.10.4: "the host" is 2, VMADDR_CID_HOST).</summary>
    public const ulong HostCid = 2;

    /// <summary>SHUTDOWN flags (§5.10.6.4): the sender will receive no more / send no more.</summary>
    public const uint ShutdownReceive = 1;
    public const uint ShutdownSend = 2;
    public const uint ShutdownBoth = ShutdownReceive | ShutdownSend;

    /// <summary>
    /// The most payload one packet carries. Linux never sends more than 64 KiB per packet
    /// (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); a larger len is hostile and answered with RST.
    /// </summary>
    public const uint MaxPayload = 64 * 1024;

    public static VsockHeader Read(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b),
        BinaryPrimitives.ReadUInt64LittleEndian(b[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[20..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[24..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[28..]),
        (VsockOp)BinaryPrimitives.ReadUInt16LittleEndian(b[30..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[32..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[36..]),
        BinaryPrimitives.ReadUInt32LittleEndian(b[40..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(b, SrcCid);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], DstCid);
        BinaryPrimitives.WriteUInt32LittleEndian(b[16..], SrcPort);
        BinaryPrimitives.WriteUInt32LittleEndian(b[20..], DstPort);
        BinaryPrimitives.WriteUInt32LittleEndian(b[24..], Length);
        BinaryPrimitives.WriteUInt16LittleEndian(b[28..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(b[30..], (ushort)Op);
        BinaryPrimitives.WriteUInt32LittleEndian(b[32..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(b[36..], BufAlloc);
        BinaryPrimitives.WriteUInt32LittleEndian(b[40..], FwdCnt);
    }
}
