using System.Net.Sockets;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// The daemon's end of a running domain's serial console: it holds the one connection to the VMM's console socket
/// for the domain's whole run (and takes it up again after a daemon restart) and hands output to the client
/// session attached at the time (virsh console), input back. Output with no session attached is dropped, as a pty
/// nobody reads would.
/// </summary>
internal sealed class ConsoleRelay : IDisposable
{
    private readonly Socket _socket;
    private readonly Lock _lock = new();
    private Session? _session;
    private bool _ended;

    private ConsoleRelay(Socket socket)
    {
        _socket = socket;
        new Thread(Pump) { IsBackground = true, Name = "console relay" }.Start();
    }

    /// <summary>Connects to the VMM's console socket; null when it cannot be reached.</summary>
    public static ConsoleRelay? Connect(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return new ConsoleRelay(socket);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    public IConsoleSession Attach(IConsoleSink sink, bool force)
    {
        Session? taken;
        Session session;
        lock (_lock)
        {
            if (_ended) throw new ManagerException(ManagerError.OperationFailed, "the domain's console has ended");
            if (_session is not null && !force)
                throw new ManagerException(ManagerError.OperationFailed, "Active console session exists for this domain");
            taken = _session;
            session = new Session(this, sink);
            _session = session;
        }
        taken?.Sink.Closed("the console was taken by another session");
        return session;
    }

    private void Pump()
    {
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = _socket.Receive(buffer)) > 0)
            {
                Session? session;
                lock (_lock) session = _session;
                session?.Sink.Output(buffer.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        End();
    }

    /// <summary>The VMM went away (or the relay was closed): the attached session sees end of file.</summary>
    private void End()
    {
        Session? session;
        lock (_lock)
        {
            if (_ended) return;
            _ended = true;
            session = _session;
            _session = null;
        }
        session?.Sink.Closed(null);
    }

    private void Detach(Session session)
    {
        lock (_lock)
        {
            if (_session == session) _session = null;
        }
    }

    private void Send(Session session, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            if (_session != session || _ended) return;
            try { _socket.Send(bytes); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        End();
    }

    private sealed class Session(ConsoleRelay relay, IConsoleSink sink) : IConsoleSession
    {
        public IConsoleSink Sink { get; } = sink;

        public void Input(ReadOnlySpan<byte> bytes) => relay.Send(this, bytes);

        public void Dispose() => relay.Detach(this);
    }
}
