using System.Net.Sockets;
using System.Text;
using KvmSharp.Devices.Virtio.Vsock;
using static KvmSharp.Tests.Devices.Virtio.Vsock.VsockTestRig;

namespace KvmSharp.Tests.Devices.Virtio.Vsock;

/// <summary>virtio-vsock (virtio 1.2 §5.10) with the test as guest driver and real Unix sockets as the host side.</summary>
public class VirtioVsockDeviceTests
{
    private const uint GuestPort = 1234;

    /// <summary>Host client → "CONNECT 1234\n" → REQUEST → guest RESPONSE → "OK hostport\n"; returns the client and host port.</summary>
    private static (Socket Client, uint HostPort) ConnectFromHost(VsockTestRig rig, uint guestBufAlloc = 64 * 1024, bool activateAfterConnect = false)
    {
        var client = rig.ConnectHostClient(rig.UdsPath);
        client.Send("CONNECT 1234\n"u8);
        if (activateAfterConnect) rig.Activate();
        var (request, _) = rig.NextRx();
        Assert.Equal(VsockOp.Request, request.Op);
        Assert.Equal((VsockHeader.HostCid, GuestCid, GuestPort, VsockHeader.TypeStream), (request.SrcCid, request.DstCid, request.DstPort, request.Type));
        Assert.True(request.SrcPort >= 1024, $"host port {request.SrcPort} is below 1024");
        Assert.Equal(VsockCredit.BufAlloc, request.BufAlloc);
        rig.Send(FromGuest(VsockOp.Response, GuestPort, request.SrcPort, bufAlloc: guestBufAlloc));
        Assert.Equal($"OK {request.SrcPort}", ReadLine(client));
        return (client, request.SrcPort);
    }

    [Fact]
    public void ConfigurationHoldsTheGuestCid()
    {
        using var rig = new VsockTestRig();
        Span<byte> config = stackalloc byte[8];
        rig.Device.ReadConfig(0, config);
        Assert.Equal(GuestCid, BitConverter.ToUInt64(config));
        Assert.Equal([256, 256, 64], rig.Device.QueueSizes);
    }

    [Fact]
    public void HostConnectsBeforeTheDriverIsUpAndDataFlowsBothWays()
    {
        using var rig = new VsockTestRig();
        var (client, hostPort) = ConnectFromHost(rig, activateAfterConnect: true);

        client.Send("ping"u8);
        var (data, payload) = rig.NextRx();
        Assert.Equal((VsockOp.ReadWrite, hostPort, GuestPort), (data.Op, data.SrcPort, data.DstPort));
        Assert.Equal("ping", Encoding.ASCII.GetString(payload));

        rig.Send(FromGuest(VsockOp.ReadWrite, GuestPort, hostPort, 4, fwdCnt: 4), "pong"u8);
        Assert.Equal("pong", Encoding.ASCII.GetString(ReadExactly(client, 4)));
        Assert.Empty(rig.Interrupts.NeedsReset);
    }

    [Fact]
    public void GuestRstClosesTheHostClient()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var client = rig.ConnectHostClient(rig.UdsPath);
        client.Send("CONNECT 1234\n"u8);
        var (request, _) = rig.NextRx();
        rig.Send(FromGuest(VsockOp.Rst, GuestPort, request.SrcPort));
        Assert.Equal(0, client.Receive(new byte[16]));   // end of file, no "OK"
    }

    [Fact]
    public void AMalformedConnectLineClosesTheClient()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var client = rig.ConnectHostClient(rig.UdsPath);
        client.Send("HELLO 1234\n"u8);
        Assert.Equal(0, client.Receive(new byte[16]));
        Assert.True(rig.RxStaysEmpty(20), "a bad CONNECT line still reached the guest");
    }

    [Fact]
    public void GuestConnectsToUdsPortAndEchoes()
    {
        using var rig = new VsockTestRig();
        var listener = rig.ListenOnHostPort(5000);
        rig.Activate();
        rig.Send(FromGuest(VsockOp.Request, 40000, 5000));
        var (response, _) = rig.NextRx();
        Assert.Equal((VsockOp.Response, 5000u, 40000u, GuestCid), (response.Op, response.SrcPort, response.DstPort, response.DstCid));
        var server = rig.Accept(listener);

        rig.Send(FromGuest(VsockOp.ReadWrite, 40000, 5000, 5), "hello"u8);
        byte[] echoed = ReadExactly(server, 5);
        Assert.Equal("hello", Encoding.ASCII.GetString(echoed));
        server.Send(echoed);
        var (data, payload) = rig.NextRx();
        Assert.Equal((VsockOp.ReadWrite, "hello"), (data.Op, Encoding.ASCII.GetString(payload)));
        Assert.Equal(5u, data.FwdCnt);   // the 5 guest bytes went on to the host

        // The guest closes (SHUTDOWN both ways, as Linux's close does): the host sees EOF and the guest an RST.
        rig.Send(FromGuest(VsockOp.Shutdown, 40000, 5000, flags: VsockHeader.ShutdownBoth));
        Assert.Equal(VsockOp.Rst, rig.NextRx().Header.Op);
        Assert.Equal(0, server.Receive(new byte[16]));
    }

    [Fact]
    public void HostEndOfFileBecomesShutdownSendAndGuestShutdownEndsTheConnection()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var (client, hostPort) = ConnectFromHost(rig);
        client.Shutdown(SocketShutdown.Send);
        var (shutdown, _) = rig.NextRx();
        Assert.Equal((VsockOp.Shutdown, VsockHeader.ShutdownSend), (shutdown.Op, shutdown.Flags));

        // The guest may still send after the host's half-close, then shuts down its side: RST ends it.
        rig.Send(FromGuest(VsockOp.ReadWrite, GuestPort, hostPort, 3), "bye"u8);
        Assert.Equal("bye", Encoding.ASCII.GetString(ReadExactly(client, 3)));
        rig.Send(FromGuest(VsockOp.Shutdown, GuestPort, hostPort, flags: VsockHeader.ShutdownSend));
        Assert.Equal(VsockOp.Rst, rig.NextRx().Header.Op);
        Assert.Equal(0, client.Receive(new byte[16]));
    }

    [Fact]
    public void GuestConnectToAMissingUdsPortGetsRst()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        rig.Send(FromGuest(VsockOp.Request, 40000, 5001));
        var (rst, _) = rig.NextRx();
        Assert.Equal((VsockOp.Rst, 5001u, 40000u), (rst.Op, rst.SrcPort, rst.DstPort));
    }

    [Fact]
    public void DeviceStopsAtTheGuestsCreditAndResumesAfterCreditUpdate()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var (client, hostPort) = ConnectFromHost(rig, guestBufAlloc: 100);
        client.Send(new byte[300]);

        int received = 0;
        while (received < 100) received += rig.NextRx().Payload.Length;
        Assert.Equal(100, received);
        Assert.True(rig.RxStaysEmpty(50), "the device sent beyond the guest's buf_alloc");

        // The guest consumed 100 bytes: room for 100 more, and only 100.
        rig.Send(FromGuest(VsockOp.CreditUpdate, GuestPort, hostPort, bufAlloc: 100, fwdCnt: 100));
        while (received < 200) received += rig.NextRx().Payload.Length;
        Assert.Equal(200, received);
        Assert.True(rig.RxStaysEmpty(50), "the device sent beyond the updated credit");

        rig.Send(FromGuest(VsockOp.CreditUpdate, GuestPort, hostPort, bufAlloc: 1000, fwdCnt: 200));
        while (received < 300) received += rig.NextRx().Payload.Length;
        Assert.Equal(300, received);
    }

    [Fact]
    public void CreditRequestIsAnsweredWithOurBufferAndForwardCount()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var (client, hostPort) = ConnectFromHost(rig);
        rig.Send(FromGuest(VsockOp.ReadWrite, GuestPort, hostPort, 3), "abc"u8);
        ReadExactly(client, 3);
        rig.Send(FromGuest(VsockOp.CreditRequest, GuestPort, hostPort));
        var (update, _) = rig.NextRx();
        Assert.Equal((VsockOp.CreditUpdate, VsockCredit.BufAlloc, 3u), (update.Op, update.BufAlloc, update.FwdCnt));
    }

    [Fact]
    public void ResetClosesEveryConnection()
    {
        using var rig = new VsockTestRig();
        rig.Activate();
        var (client, _) = ConnectFromHost(rig);
        rig.Device.Reset();
        Assert.Equal(0, client.Receive(new byte[16]));
        // The listener stays: a new client can connect to the next activation.
        using var again = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        again.Connect(new UnixDomainSocketEndPoint(rig.UdsPath));
    }

    [Fact]
    public void AStaleSocketFileIsReplacedAndAnythingElseIsRefused()
    {
        string dir = Directory.CreateTempSubdirectory("kvmsharp-vsock-path").FullName;
        try
        {
            string stale = Path.Combine(dir, "stale.sock");
            using (var old = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
                old.Bind(new UnixDomainSocketEndPoint(stale));   // closed without unlinking: a stale socket file
            using (new VirtioVsockDevice(3, stale, _ => { })) Assert.True(File.Exists(stale));
            Assert.False(File.Exists(stale));   // removed again on dispose

            string file = Path.Combine(dir, "notes.txt");
            File.WriteAllText(file, "keep me");
            var e = Assert.Throws<IOException>(() => new VirtioVsockDevice(3, file, _ => { }));
            Assert.Contains("is not a socket", e.Message);
            Assert.Equal("keep me", File.ReadAllText(file));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
