using System.Buffers.Binary;
using System.Text;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;
using static KvmSharp.Tests.Devices.Virtio.Vsock.VsockTestRig;

namespace KvmSharp.Tests.Devices.Virtio.Vsock;

/// <summary>A restored vsock device resets the guest's transport; a paused one moves no data.</summary>
public class VirtioVsockStateTests
{
    [Fact]
    public void ARestoredDeviceSendsTransportResetOnceAnEventBufferIsPosted()
    {
        using var rig = new VsockTestRig();
        rig.Device.RestoreState(StateFuzz.RoundTrip(rig.Device.SaveState()));
        rig.Activate();
        Assert.True(rig.RxStaysEmpty(20));
        rig.PostEventBuffer();
        WaitFor(() => rig.Events.UsedIdx == 1, "the TRANSPORT_RESET event");
        var (head, length) = rig.Events.UsedElement(0);
        Assert.Equal(4u, length);
        Span<byte> id = stackalloc byte[4];
        rig.Events.Memory.Read(rig.Events.BufferAddress((ushort)head), id);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(id));   // VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
        WaitFor(() => rig.Interrupts.QueueSignals(2) == 1, "the event queue's interrupt");

        rig.PostEventBuffer();                                          // one event, not one per buffer
        Barrier(rig);
        Assert.Equal(1, rig.Events.UsedIdx);
    }

    [Fact]
    public void ADeviceThatWasNotRestoredSendsNoEvent()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        rig.PostEventBuffer();
        Barrier(rig);
        Assert.Equal(0, rig.Events.UsedIdx);
    }

    /// <summary>Two full rounds of the device loop: an RST for no connection is used without an answer.</summary>
    private static void Barrier(VsockTestRig rig)
    {
        rig.Send(FromGuest(VsockOp.Rst, 1, 2));
        rig.Send(FromGuest(VsockOp.Rst, 1, 2));
    }

    [Fact]
    public void AnotherGuestCidIsRefused()
    {
        using var rig = new VsockTestRig();
        var e = Assert.Throws<StateException>(() => rig.Device.RestoreState(new VirtioVsockState { GuestCid = GuestCid + 1 }));
        Assert.StartsWith("vsock.GuestCid:", e.Message);
        Assert.Throws<StateException>(() => rig.Device.RestoreState(null!));
    }

    [Fact]
    public void PausedDeviceGivesBackItsHeldRxBufferAndDeliversHostDataOnlyAfterResume()
    {
        using var rig = new VsockTestRig();
        var listener = rig.ListenOnHostPort(5000);
        rig.Activate();
        rig.Send(FromGuest(VsockOp.Request, 40000, 5000));
        Assert.Equal(VsockOp.Response, rig.NextRx().Header.Op);
        var server = rig.Accept(listener);
        server.Send("a"u8);
        Assert.Equal("a", Encoding.ASCII.GetString(rig.NextRx().Payload));
        // Having sent data, the device took the next buffer for more and found the socket empty: it holds that buffer.
        WaitFor(() => rig.Rx.Queue.NextAvailable == (ushort)(rig.Rx.UsedIdx + 1), "the device to hold an rx buffer");

        rig.Device.Pause();
        Assert.Equal(rig.Rx.UsedIdx, rig.Rx.Queue.NextAvailable);
        var log = rig.StartWriteLog();
        server.Send("b"u8);
        Assert.True(rig.RxStaysEmpty(100));
        Assert.Equal(0, log.Count());

        rig.Device.Resume();
        Assert.Equal("b", Encoding.ASCII.GetString(rig.NextRx().Payload));
    }
}
