using System.Net.Sockets;
using KvmSharp.Manager.Domains;
using KvmSharp.Native.Net;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// libvirt's remote protocol on a Unix socket, so that stock virsh and the libvirt bindings drive our domains
/// (<c>virsh -c 'qemu+unix:///system?socket=PATH'</c>). Like libvirtd, one socket is read-write (mode 0600) and
/// another may be read-only (mode 0666: anyone connects, nothing changes).
/// </summary>
public sealed class RpcServer : IDisposable
{
    // Connections the kernel queues before accept: libvirtd's max_queued_clients (1000). With 64, a burst of 100 clients
    // connecting at once had non-blocking connects refused with EAGAIN (DaemonLoadTests).
    private const int Backlog = 1000;
    private const UnixFileMode ReadOnlyMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
        | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    private readonly Socket _listener;
    private readonly string _socketPath;
    private readonly bool _readOnly;
    private readonly RemoteDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly Thread _acceptThread;
    private readonly HashSet<RpcConnection> _connections = [];
    private readonly Lock _gate = new();
    private long _accepted;
    private bool _disposed;

    private RpcServer(Socket listener, string socketPath, bool readOnly, RemoteDispatcher dispatcher, ILogger logger)
    {
        _listener = listener;
        _socketPath = socketPath;
        _readOnly = readOnly;
        _dispatcher = dispatcher;
        _logger = logger;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = $"rpc accept {Path.GetFileName(socketPath)}" };
    }

    /// <summary>Listens on <paramref name="socketPath"/> and serves every client from now until disposed; without <paramref name="networks"/> the net-* procedures are unsupported.</summary>
    /// <exception cref="IOException">The socket cannot be made.</exception>
    public static RpcServer Start(string socketPath, bool readOnly, IDomainDriver driver, ILogger logger,
        Storage.StorageDriver? storage = null, Networks.INetworkDriver? networks = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        ArgumentNullException.ThrowIfNull(logger);
        socketPath = Path.GetFullPath(socketPath);
        var listener = readOnly ? UnixListener.Listen(socketPath, Backlog, ReadOnlyMode) : UnixListener.Listen(socketPath, Backlog);
        var server = new RpcServer(listener, socketPath, readOnly, new RemoteDispatcher(driver, HostInfo.Read(), logger, storage, networks), logger);
        server._acceptThread.Start();
        return server;
    }

    /// <summary>How many clients are connected now.</summary>
    public int ConnectionCount
    {
        get { lock (_gate) return _connections.Count; }
    }

    public void Dispose()
    {
        List<RpcConnection> connections;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            connections = [.. _connections];
        }
        _listener.Dispose();
        _acceptThread.Join(TimeSpan.FromSeconds(5));
        foreach (var connection in connections) connection.Close();
        try
        {
            File.Delete(_socketPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("cannot remove '{Path}': {Reason}", _socketPath, e.Message);
        }
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (_gate) if (_disposed) return;
                _logger.LogWarning("accept on '{Path}' failed: {Reason}", _socketPath, e.Message);
                Thread.Sleep(100);
                continue;
            }
            RpcConnection connection;
            lock (_gate)
            {
                if (_disposed)
                {
                    client.Dispose();
                    return;
                }
                connection = new RpcConnection(client, $"rpc client {++_accepted}", _readOnly, _dispatcher, _logger, Ended);
                _connections.Add(connection);
            }
            connection.Start();
        }
    }

    private void Ended(RpcConnection connection)
    {
        lock (_gate) _connections.Remove(connection);
    }
}
