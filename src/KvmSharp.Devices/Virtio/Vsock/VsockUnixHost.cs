using System.Buffers.Binary;
using System.Net.Sockets;
using KvmSharp.Native.Net;
using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>
/// The host side of vsock on Unix sockets, in Firecracker's convention: we listen on <see cref="Path"/>; a
/// host program connects there and writes "CONNECT &lt;port&gt;\n" to reach guest port &lt;port&gt;, and
/// hears "OK &lt;hostport&gt;\n" once the guest accepted. A guest that connects to host port P reaches
/// whatever listens on "<see cref="Path"/>_P". All sockets are non-blocking (the device's loop polls them).
/// </summary>
public sealed class VsockUnixHost : IDisposable
{
    /// <summary>"CONNECT 4294967295\n" is 19 bytes; a longer line is not a CONNECT.</summary>
    private const int MaxConnectLine = 32;

    /// <summary>S_IFMT and S_IFSOCK from sys/stat.h (inode type bits of st_mode).</summary>

    private readonly Socket _listener;

    /// <summary>Removes a stale socket file at <paramref name="path"/> and listens there; refuses any other kind of file.</summary>
    public VsockUnixHost(string path)
    {
        Path = path;
        try { _listener = UnixListener.Listen(path, backlog: 64); }
        catch (IOException e) { throw new IOException($"vsock: {e.Message}", e); }
        _listener.Blocking = false;
    }

    public string Path { get; }

    /// <summary>Poll it for POLLIN: a host program is waiting in <see cref="TryAccept"/>.</summary>
    public SafeHandle ListenerHandle => _listener.SafeHandle;

    /// <summary>The next waiting host client (non-blocking), or null when there is none.</summary>
    public Socket? TryAccept()
    {
        try
        {
            var client = _listener.Accept();
            client.Blocking = false;
            return client;
        }
        catch (SocketException) { return null; }
    }

    /// <summary>A guest connection to host port <paramref name="port"/>: connects to "Path_port", or null if nothing listens there.</summary>
    public Socket? TryConnectToHostPort(uint port)
    {
        var socket = new Socket(AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A Unix stream connect completes at once or fails (EAGAIN when the listener's backlog is full): no waiting here.
            socket.Blocking = false;
            socket.Connect(new UnixDomainSocketEndPoint($"{Path}_{port}"));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>Reads the CONNECT line one byte at a time so no data after it is taken from the socket.</summary>
    public static HandshakeResult ReadConnectLine(Socket client, List<byte> line, out uint port)
    {
        port = 0;
        Span<byte> one = stackalloc byte[1];
        while (true)
        {
            int n = client.Receive(one, SocketFlags.None, out var error);
            if (error == SocketError.WouldBlock) return HandshakeResult.NeedMore;
            if (error != SocketError.Success || n == 0) return HandshakeResult.Failed;
            if (one[0] == (byte)'\n') return TryParseConnect(line, out port) ? HandshakeResult.Connect : HandshakeResult.Failed;
            if (line.Count == MaxConnectLine) return HandshakeResult.Failed;
            line.Add(one[0]);
        }
    }

    /// <summary>Tells the host client the connection is up (Firecracker: "OK &lt;local port&gt;\n"); false if the socket would not take it.</summary>
    public static bool WriteOk(Socket client, uint hostPort)
    {
        byte[] ok = Encoding.ASCII.GetBytes($"OK {hostPort}\n");
        int n = client.Send(ok, SocketFlags.None, out var error);
        return error == SocketError.Success && n == ok.Length;
    }

    private static bool TryParseConnect(List<byte> line, out uint port)
    {
        port = 0;
        string text = Encoding.ASCII.GetString(line.ToArray()).TrimEnd('\r');
        const string prefix = "CONNECT ";
        return text.StartsWith(prefix, StringComparison.Ordinal)
            && uint.TryParse(text.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, null, out port);
    }

    /// <summary>Stops listening and removes the socket file we made.</summary>
    public void Dispose()
    {
        _listener.Dispose();
        if (UnixFileType.IsSocket(Path)) File.Delete(Path);
    }
}

public enum HandshakeResult
{
    NeedMore,
    Connect,
    Failed,
}
