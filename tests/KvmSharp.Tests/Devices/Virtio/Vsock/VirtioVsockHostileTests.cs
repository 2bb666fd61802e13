using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Memory;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;
using static KvmSharp.Tests.Devices.Virtio.Vsock.VsockTestRig;

namespace KvmSharp.Tests.Devices.Virtio.Vsock;

/// <summary>
/// A hostile guest driver: wrong packets are answered with RST and never throw; chains that break the queue
/// rules end in NEEDS_RESET (virtio 1.2 §2.1.2, §5.10.6).
/// </summary>
public class VirtioVsockHostileTests
{
    public static TheoryData<string> WrongPackets => ["len beyond the chain", "len over 64 KiB", "unknown op", "wrong dst_cid", "wrong src_cid", "wrong type", "data for no connection", "response for no connection"];

    private static VsockHeader Wrong(string name) => name switch
    {
        "len beyond the chain" => FromGuest(VsockOp.Request, 40000, 5000, length: 8),   // sent with no payload buffer
        "len over 64 KiB" => FromGuest(VsockOp.Request, 40000, 5000, length: 65537),
        "unknown op" => FromGuest((VsockOp)99, 40000, 5000),
        "wrong dst_cid" => FromGuest(VsockOp.Request, 40000, 5000) with { DstCid = 7 },
        "wrong src_cid" => FromGuest(VsockOp.Request, 40000, 5000) with { SrcCid = 4 },
        "wrong type" => FromGuest(VsockOp.Request, 40000, 5000) with { Type = 2 },
        "data for no connection" => FromGuest(VsockOp.ReadWrite, 40000, 5000, length: 1),
        "response for no connection" => FromGuest(VsockOp.Response, 40000, 5000),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(WrongPackets))]
    public void AWrongPacketIsAnsweredWithRstAndConnectsNothing(string name)
    {
        using var rig = new VsockTestRig();
        var listener = rig.ListenOnHostPort(5000);   // a REQUEST that got through would connect here
        rig.Activate();
        var header = Wrong(name);
        rig.Send(header, header.Op == VsockOp.ReadWrite ? new byte[1] : default);

        var (rst, _) = rig.NextRx();
        Assert.Equal((VsockOp.Rst, 5000u, 40000u, GuestCid), (rst.Op, rst.SrcPort, rst.DstPort, rst.DstCid));
        Assert.False(listener.Poll(TimeSpan.Zero, SelectMode.SelectRead), $"{name}: a connection reached the host");
        Assert.Empty(rig.Interrupts.NeedsReset);
        Assert.Empty(rig.Notices);
    }

    [Fact]
    public void AnRstIsNeverAnsweredWithAnRst()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        rig.Send(FromGuest(VsockOp.Rst, 40000, 5000));
        Assert.True(rig.RxStaysEmpty(20), "the device answered an RST");
    }

    [Fact]
    public void DataBeyondTheCreditWeGaveResetsTheConnection()
    {
        using var rig = new VsockTestRig();
        var listener = rig.ListenOnHostPort(5000);
        rig.Activate();
        rig.Send(FromGuest(VsockOp.Request, 40000, 5000));
        Assert.Equal(VsockOp.Response, rig.NextRx().Header.Op);
        var server = rig.Accept(listener);
        server.ReceiveBufferSize = 4096;   // the host reads nothing: our buffer fills up

        // Ignore the credit updates the device sends and keep writing: past buf_alloc the device must give up.
        var chunk = new byte[VsockHeader.MaxPayload];
        bool reset = false;
        for (uint sent = 0; !reset && sent <= 2 * VsockCredit.BufAlloc + (4u << 20); sent += (uint)chunk.Length)
        {
            rig.Send(FromGuest(VsockOp.ReadWrite, 40000, 5000, (uint)chunk.Length), chunk);
            while (!reset && rig.HasRx) reset = rig.NextRx().Header.Op == VsockOp.Rst;
        }
        Assert.True(reset, "the device took far more than the credit it gave without resetting the connection");
        Assert.Empty(rig.Interrupts.NeedsReset);
    }

    [Fact]
    public void ATxChainShorterThanTheHeaderNeedsReset()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        rig.PublishTx(rig.Tx.AddChain((20, false)));
        Assert.Contains("shorter than the 44-byte header", Assert.Single(rig.Interrupts.NeedsReset));
    }

    [Fact]
    public void AWritableTxBufferNeedsReset()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        rig.PublishTx(rig.Tx.AddChain((VsockHeader.Size, true)));
        Assert.Contains("device-writable", Assert.Single(rig.Interrupts.NeedsReset));
    }

    [Fact]
    public void AnRxBufferTooSmallForAHeaderNeedsReset()
    {
        using var rig = new VsockTestRig();
        rig.Activate(rxBuffers: 0);
        rig.PostRxBuffer(16);
        rig.Send(FromGuest(VsockOp.Request, 40000, 5001));   // answered with RST: needs an rx buffer
        WaitFor(() => rig.Interrupts.NeedsReset.Count > 0, "NEEDS_RESET");
        Assert.Contains("cannot hold a 44-byte header", Assert.Single(rig.Interrupts.NeedsReset));
    }

    [Fact]
    public void ADescriptorLoopInTheTxQueueNeedsResetAndTheDeviceStaysQuiet()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        ulong buffer = 2 * LayoutSize - 0x1000;   // inside the tx driver's area
        rig.Tx.SetDescriptor(0, LayoutSize + BufferBase, VsockHeader.Size, Flags.Next, 1);
        rig.Tx.SetDescriptor(1, buffer, 8, Flags.Next, 0);
        rig.PublishTx(0);
        Assert.Single(rig.Interrupts.NeedsReset);

        // Broken until reset: a later valid request is not served.
        rig.Tx.SetDescriptor(2, buffer, VsockHeader.Size, 0);
        Span<byte> raw = stackalloc byte[VsockHeader.Size];
        FromGuest(VsockOp.Request, 40000, 5001).Write(raw);
        rig.Rx.Memory.Write(new GuestAddress(buffer), raw);
        rig.Tx.Publish(2);
        Assert.True(rig.RxStaysEmpty(20), "a broken device still answered");
    }
}
