using System.Buffers.Binary;
using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Net.Host;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// The passt backend against a test playing passt on the other end of a Unix stream socket: QEMU's stream framing
/// both ways, frames that arrive in pieces, lengths no frame has, passt going away, and a missing or failing passt.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PasstBackendTests : IDisposable
{
    private const int VnetHeader = 12;
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-passt-").FullName;
    private readonly Socket _passt;
    private readonly PasstBackend _backend;
    private string? _gone;

    public PasstBackendTests()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(_dir, "s")));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(Path.Combine(_dir, "s")));
        _passt = listener.Accept();
        _backend = new PasstBackend(client, "test", () => _gone);
    }

    public void Dispose()
    {
        _backend.Dispose();
        _passt.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Frame(int length, byte seed)
    {
        var frame = new byte[length];
        for (int i = 0; i < length; i++) frame[i] = (byte)(seed + i * 7);
        return frame;
    }

    private static byte[] Framed(byte[] frame)
    {
        var bytes = new byte[4 + frame.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)frame.Length);
        frame.CopyTo(bytes, 4);
        return bytes;
    }

    /// <summary>Calls Receive until it gives a frame or fails (the data may still be on its way through the socket).</summary>
    private int ReceiveWithin(byte[] buffer, int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            int n = _backend.Receive(buffer);
            if (n != 0 || DateTime.UtcNow > deadline) return n;
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void FramesFromPasstArriveWholeBehindAZeroHeaderEvenInPieces()
    {
        var buffer = new byte[70_000];
        Assert.Equal(0, _backend.Receive(buffer));   // nothing yet: drained, not failed

        byte[] small = Frame(60, 1), big = Frame(65_534, 9);   // passt's largest: 65520 bytes of MTU and the Ethernet header
        _passt.Send(Framed(small));
        Assert.Equal(VnetHeader + 60, ReceiveWithin(buffer));
        Assert.All(buffer[..VnetHeader], b => Assert.Equal(0, b));
        Assert.Equal(small, buffer[VnetHeader..(VnetHeader + 60)]);

        // The same big frame cut at awkward places: inside the length, then inside the frame.
        byte[] bytes = Framed(big);
        foreach (var (from, to) in new[] { (0, 2), (2, 3), (3, 1000), (1000, bytes.Length) })
        {
            _passt.Send(bytes.AsSpan(from, to - from));
            Thread.Sleep(20);
            int n = _backend.Receive(buffer);
            if (to < bytes.Length) Assert.Equal(0, n);   // not whole yet: nothing handed over
            else Assert.Equal(VnetHeader + big.Length, n == 0 ? ReceiveWithin(buffer) : n);
        }
        Assert.Equal(big, buffer[VnetHeader..(VnetHeader + big.Length)]);

        // Two frames in one write come out as two.
        _passt.Send([.. Framed(Frame(100, 3)), .. Framed(Frame(200, 4))]);
        Assert.Equal(VnetHeader + 100, ReceiveWithin(buffer));
        Assert.Equal(VnetHeader + 200, ReceiveWithin(buffer));
        Assert.Equal(Frame(200, 4), buffer[VnetHeader..(VnetHeader + 200)]);
    }

    [Fact]
    public void FramesToPasstLoseTheirHeaderAndGainTheLength()
    {
        byte[] frame = Frame(1500, 5);
        for (int i = 0; i < 3; i++)
            Assert.Equal(0, _backend.Send([.. new byte[VnetHeader], .. frame]));
        var got = new byte[3 * (4 + frame.Length)];
        int read = 0;
        _passt.ReceiveTimeout = 5000;
        while (read < got.Length) read += _passt.Receive(got.AsSpan(read));
        for (int i = 0; i < 3; i++)
            Assert.Equal(Framed(frame), got[(i * (4 + frame.Length))..((i + 1) * (4 + frame.Length))]);
        Assert.True(_backend.Send(new byte[VnetHeader + 5]) < 0);   // shorter than an Ethernet header: refused, not sent
    }

    [Fact]
    public void AStalledPasstFillsTheQueueAndFramesAreDroppedNotSplit()
    {
        byte[] frame = [.. new byte[VnetHeader], .. Frame(60_000, 2)];
        int sent = 0, dropped = 0;
        for (int i = 0; i < 200; i++)
        {
            if (_backend.Send(frame) == 0) sent++;
            else dropped++;
        }
        Assert.True(dropped > 0, "a passt that reads nothing should fill the queue");
        // Now passt reads everything: exactly the accepted frames, whole and in order.
        _passt.ReceiveTimeout = 5000;
        var prefix = new byte[4];
        var body = new byte[60_000];
        for (int i = 0; i < sent; i++)
        {
            ReadExactly(_passt, prefix);
            Assert.Equal(60_000u, BinaryPrimitives.ReadUInt32BigEndian(prefix));
            ReadExactly(_passt, body);
            Assert.Equal(frame[VnetHeader..], body);
        }
        Assert.Equal(0, _backend.Send(frame));   // room again
    }

    [Fact]
    public void ALengthNoFrameHasFailsTheBackendForGood()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, 0x7fff_ffff);
        _passt.Send(bytes);
        var buffer = new byte[70_000];
        Assert.True(ReceiveWithin(buffer) < 0);
        Assert.Contains("2147483647 bytes", _backend.DescribeFailure("x"));
        _passt.Send(Framed(Frame(60, 1)));
        Assert.True(_backend.Receive(buffer) < 0);   // stays failed
        Assert.True(_backend.Send([.. new byte[VnetHeader], .. Frame(60, 1)]) < 0);
    }

    [Fact]
    public void PasstGoingAwayIsAFailureThatSaysWhy()
    {
        _passt.Send(Framed(Frame(60, 1))[..10]);   // half a frame, then gone
        _passt.Close();
        _gone = "passt exited with status 1: something broke";
        var buffer = new byte[70_000];
        Assert.True(ReceiveWithin(buffer) < 0);
        Assert.Equal("passt exited with status 1: something broke", _backend.DescribeFailure("Connection reset by peer"));
    }

    [Fact]
    public void AMissingPasstIsOneLineNamingThePackage()
    {
        var e = Assert.Throws<PasstException>(() => PasstProcess.Start([], searchPath: _dir));
        Assert.Equal("user networking needs passt, which is not installed (Debian and Ubuntu: apt-get install passt)", e.Message);
    }

    [Fact]
    public void APasstThatExitsAtOnceIsOneLineWithWhatItSaid()
    {
        string fake = Path.Combine(_dir, "passt");
        File.WriteAllText(fake, "#!/bin/sh\necho 'Failed to send 30 bytes to syslog' >&2\necho 'No external routable interface for IPv4' >&2\nexit 1\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var e = Assert.Throws<PasstException>(() => PasstProcess.Start([new PasstPortForward(false, "127.0.0.1", 2222, 22)], searchPath: _dir));
        Assert.Equal("passt exited with status 1 before it served the NIC: No external routable interface for IPv4", e.Message);
    }

    [Fact]
    public void PortForwardsBecomePasstSpecs()
    {
        Assert.Equal("127.0.0.1/2222:22", new PasstPortForward(false, "127.0.0.1", 2222, 22).Spec);
        Assert.Equal("5353:53", new PasstPortForward(true, null, 5353, 53).Spec);
    }

    private static void ReadExactly(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.Receive(buffer.AsSpan(read));
            Assert.True(n > 0, "the stream ended early");
            read += n;
        }
    }
}
