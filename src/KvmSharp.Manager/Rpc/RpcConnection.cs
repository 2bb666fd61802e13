using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// One client: a thread reads its packets and has each handled before the next (calls on a connection are answered
/// in order, as libvirtd does with one worker per client), so a slow call holds only this connection. Bad framing
/// closes this connection alone; the end of the connection ends its events and consoles.
/// </summary>
internal sealed class RpcConnection
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly RemoteDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly Action<RpcConnection> _ended;
    private readonly PacketSender _sender;
    private readonly RemoteSession _session;
    private readonly Thread _thread;
    private int _closed;

    public RpcConnection(Socket socket, string name, bool readOnlySocket, RemoteDispatcher dispatcher, ILogger logger, Action<RpcConnection> ended)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _dispatcher = dispatcher;
        _logger = logger;
        _ended = ended;
        Name = name;
        _sender = new PacketSender(_stream, name, Fail);
        _session = new RemoteSession(_sender, dispatcher.Driver, logger, name, readOnlySocket);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{name} reader" };
    }

    public string Name { get; }

    public void Start() => _thread.Start();

    /// <summary>Ends the connection from outside (the server stops) and waits a little for its reader.</summary>
    public void Close()
    {
        Shutdown();
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                var packet = RpcPacket.Read(_stream);
                if (packet is null) break;
                Dispatch(packet.Value.Header, packet.Value.Payload);
            }
        }
        catch (RpcFramingException e)
        {
            _logger.LogWarning("{Connection}: closing: {Reason}", Name, e.Message);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            if (Volatile.Read(ref _closed) == 0) _logger.LogInformation("{Connection}: read failed: {Reason}", Name, e.Message);
        }
        finally
        {
            Shutdown();
            _session.Dispose();
            _sender.Dispose();
            _stream.Dispose();
            _socket.Dispose();
            _ended(this);
        }
    }

    /// <summary>
    /// The dispatcher answers every failure it expects with an error reply; anything that still escapes is a bug of
    /// ours and ends this connection only, logged, never the process.
    /// </summary>
    private void Dispatch(RpcHeader header, byte[] payload)
    {
        try
        {
            _dispatcher.Handle(_session, header, payload);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "{Connection}: closing after an unexpected failure on procedure {Procedure}", Name, header.Procedure);
            throw new RpcFramingException($"unexpected failure on procedure {header.Procedure}");
        }
    }

    private void Fail(string reason)
    {
        _logger.LogWarning("{Connection}: closing: {Reason}", Name, reason);
        Shutdown();
    }

    /// <summary>Wakes the reader (a blocked read returns) so that it cleans up on its own thread.</summary>
    private void Shutdown()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already gone
        }
    }
}
