using System.Net.Sockets;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Machine.Console;

/// <summary>The console on a Unix socket: one client at a time; output while none is connected is dropped.</summary>
public sealed class SocketConsole : ConsoleBackend
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Lock _lock = new();
    private Socket? _client;

    public SocketConsole(string path)
    {
        _path = path;
        try { _listener = UnixListener.Listen(path, backlog: 1); }
        catch (IOException e) { throw new IOException($"console: {e.Message}", e); }
    }

    public override void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            if (_client is null) return;
            try { _client.Send(bytes); }
            catch (SocketException) { DropClient(); }
            catch (ObjectDisposedException) { _client = null; }
        }
    }

    protected override int ReadInput(Span<byte> buffer, int timeoutMs)
    {
        Socket? client;
        lock (_lock) client = _client;
        try
        {
            if (client is null)
            {
                if (!_listener.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return 0;
                var accepted = _listener.Accept();
                lock (_lock) _client = accepted;
                return 0;
            }
            if (!client.Poll(timeoutMs * 1000, SelectMode.SelectRead)) return 0;
            int n = client.Receive(buffer);
            if (n == 0) { lock (_lock) DropClient(); }
            return n;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            lock (_lock) DropClient();
            return 0;
        }
    }

    private void DropClient()
    {
        _client?.Dispose();
        _client = null;
    }

    protected override void Release()
    {
        lock (_lock) DropClient();
        _listener.Dispose();
        if (UnixFileType.IsSocket(_path)) File.Delete(_path);
    }
}
