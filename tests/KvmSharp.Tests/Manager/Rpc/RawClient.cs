using System.Net.Sockets;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>A client that writes packets by hand, for what real clients never send; every read has a deadline.</summary>
internal sealed class RawClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly NetworkStream _stream;
    private uint _serial;

    public RawClient(string path)
    {
        _socket.Connect(new UnixDomainSocketEndPoint(path));
        _socket.ReceiveTimeout = 10_000;
        _socket.SendTimeout = 10_000;
        _stream = new NetworkStream(_socket);
    }

    public void SendRaw(ReadOnlySpan<byte> bytes) => _stream.Write(bytes);

    public uint Send(RemoteProcedure procedure, Action<XdrWriter>? args = null, RpcMessageType type = RpcMessageType.Call,
        RpcMessageStatus status = RpcMessageStatus.Ok, uint program = RpcProgram.Remote, uint? serial = null)
    {
        uint s = serial ?? _serial++;
        SendRaw(RpcPacket.Build(new RpcHeader(program, RpcProgram.Version, (int)procedure, type, s, status), args));
        return s;
    }

    /// <summary>The next packet, or null when the server closed the connection (a reset too: it closed with our bytes unread).</summary>
    public (RpcHeader Header, byte[] Payload)? Receive()
    {
        try
        {
            return RpcPacket.Read(_stream);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return null;
        }
    }

    public (RpcHeader Header, byte[] Payload) Call(RemoteProcedure procedure, Action<XdrWriter>? args = null)
    {
        uint serial = Send(procedure, args);
        while (true)
        {
            var packet = Receive() ?? throw new IOException($"connection closed before the reply to {procedure}");
            if (packet.Header.Type == RpcMessageType.Reply && packet.Header.Serial == serial) return packet;
        }
    }

    /// <summary>The error of an ERROR reply (fails the test on an OK one).</summary>
    public static RemoteError Error((RpcHeader Header, byte[] Payload) reply)
    {
        Assert.Equal(RpcMessageStatus.Error, reply.Header.Status);
        var reader = new XdrReader(reply.Payload);
        var error = RemoteError.Decode(ref reader);
        reader.EnsureEnd();
        return error;
    }

    /// <summary>AUTH_LIST and CONNECT_OPEN, as virsh does first.</summary>
    public void Open(uint flags = 0)
    {
        Assert.Equal(RpcMessageStatus.Ok, Call(RemoteProcedure.AuthList).Header.Status);
        var open = Call(RemoteProcedure.ConnectOpen, w => { w.WriteOptionalString("qemu:///system"); w.WriteUInt32(flags); });
        Assert.Equal(RpcMessageStatus.Ok, open.Header.Status);
    }

    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }
}
