using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Tests.Manager.Rpc;

public sealed class RpcPacketTests
{
    [Fact]
    public void ACapturedConnectOpenDecodes()
    {
        // CONNECT_OPEN as virsh 9.0 sent it (libvirt-protocol.md §1).
        byte[] wire = Convert.FromHexString("00000038200080860000000100000001000000000000000200000000"
            + "000000010000000E71656D753A2F2F2F73797374656D000000000000");

        var packet = RpcPacket.Read(new MemoryStream(wire))!.Value;

        Assert.Equal(new RpcHeader(0x20008086, 1, 1, RpcMessageType.Call, 2, RpcMessageStatus.Ok), packet.Header);
        var r = new XdrReader(packet.Payload);
        Assert.Equal("qemu:///system", r.ReadOptionalString());
        Assert.Equal(0u, r.ReadUInt32());
        r.EnsureEnd();
        Assert.Equal(wire, RpcPacket.Build(packet.Header, w => { w.WriteOptionalString("qemu:///system"); w.WriteUInt32(0); }));
    }

    [Fact]
    public void AnEmptyStreamIsTheEndAndACutPacketIsAFramingError()
    {
        byte[] whole = RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 3, RpcMessageType.Call, 0, RpcMessageStatus.Ok));

        Assert.Null(RpcPacket.Read(new MemoryStream()));
        Assert.Equal("connection closed inside a packet's length word (2 of 4 bytes)",
            Assert.Throws<RpcFramingException>(() => RpcPacket.Read(new MemoryStream(whole[..2]))).Message);
        Assert.Equal("connection closed inside a packet (20 of 28 bytes)",
            Assert.Throws<RpcFramingException>(() => RpcPacket.Read(new MemoryStream(whole[..20]))).Message);
        Assert.Equal("packet length 16 is outside 28..33554432",
            Assert.Throws<RpcFramingException>(() => RpcPacket.Read(new MemoryStream(Convert.FromHexString("00000010")))).Message);
    }
}
