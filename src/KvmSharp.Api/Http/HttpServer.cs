using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KvmSharp.Api.Firecracker;

namespace KvmSharp.Api.Http;

/// <summary>
/// HTTP/1.1 on a listening Unix socket, as much of it as a per-VM API needs (RFC 9112): request line and headers
/// (at most 16 KiB), a body by Content-Length (chunked bodies are refused), <c>Expect: 100-continue</c>, persistent
/// connections, one thread per client. Our own rather than Kestrel's: linking ASP.NET Core into the NativeAOT binary
/// made every run, API or not, start 10 ms slower and 5 MiB larger (measured with `run --kernel hello.bin`).
/// </summary>
internal sealed class HttpServer(Socket listener, Func<HttpExchange, Task> handle) : IDisposable
{
    private const int MaxHeadBytes = 16 << 10;
    /// <summary>Bodies up to this size are read and handed on (the API refuses above its own, smaller limit); larger ones close the connection.</summary>
    private const int MaxBodyBytes = 1 << 20;

    private readonly ConcurrentDictionary<Socket, byte> _clients = new();
    private volatile bool _disposed;

    public void Start() => new Thread(AcceptLoop) { Name = "api-accept", IsBackground = true }.Start();

    private void AcceptLoop()
    {
        while (!_disposed)
        {
            Socket client;
            try { client = listener.Accept(); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
            _clients[client] = 0;
            // This thread predates the VMM's sandbox; joining it here confines every client thread it starts (Landlock).
            Machine.Sandbox.VmmSandbox.JoinCurrentThread();
            new Thread(() => Serve(client)) { Name = "api-client", IsBackground = true }.Start();
        }
    }

    private void Serve(Socket client)
    {
        try
        {
            using var stream = new NetworkStream(client, ownsSocket: false);
            var buffer = new HeadBuffer(stream);
            while (!_disposed && ServeOne(stream, buffer)) { }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away; nothing to answer.
        }
        finally
        {
            _clients.TryRemove(client, out _);
            client.Dispose();
        }
    }

    /// <summary>Serves one request; false when the connection is to close.</summary>
    private bool ServeOne(NetworkStream stream, HeadBuffer buffer)
    {
        string? head = buffer.ReadHead();
        if (head is null) return false;
        var lines = head.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return Refuse(stream, "malformed request line");
        bool keepAlive = requestLine[2] == "HTTP/1.1";
        long? length = null;
        bool expectContinue = false;
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) return Refuse(stream, $"malformed header line '{line}'");
            string name = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, null, out long n) || (length is { } other && other != n))
                    return Refuse(stream, "bad Content-Length");
                length = n;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                return Refuse(stream, "chunked bodies are not accepted; send Content-Length");
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                keepAlive = !value.Equals("close", StringComparison.OrdinalIgnoreCase) && (keepAlive || value.Equals("keep-alive", StringComparison.OrdinalIgnoreCase));
            else if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase) && value.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                expectContinue = true;
        }
        if (length > MaxBodyBytes)
            return Refuse(stream, $"the request body has {length} bytes; the limit is {RequestBody.MaxBytes}");
        if (expectContinue && length > 0) stream.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
        byte[] body = new byte[length ?? 0];
        buffer.ReadBody(body);

        string target = requestLine[1];
        int query = target.IndexOf('?');
        var exchange = new HttpExchange(requestLine[0], query < 0 ? target : target[..query], length, body);
        handle(exchange).GetAwaiter().GetResult();
        WriteResponse(stream, exchange.Response.StatusCode, exchange.Response.ContentType, exchange.Response.Body.ToArray(), keepAlive);
        return keepAlive;
    }

    /// <summary>A request too malformed to route: a 400 with a fault message, and the connection closes.</summary>
    private static bool Refuse(NetworkStream stream, string why)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new Fault($"bad request: {why}"), FirecrackerJsonContext.Default.Fault);
        WriteResponse(stream, 400, "application/json", body, keepAlive: false);
        return false;
    }

    private static void WriteResponse(NetworkStream stream, int status, string? contentType, byte[] body, bool keepAlive)
    {
        var head = new StringBuilder();
        head.Append($"HTTP/1.1 {status} {Reason(status)}\r\n");
        if (status != 204)
        {
            if (contentType is not null) head.Append($"Content-Type: {contentType}\r\n");
            head.Append($"Content-Length: {body.Length}\r\n");
        }
        if (!keepAlive) head.Append("Connection: close\r\n");
        head.Append("\r\n");
        stream.Write(Encoding.ASCII.GetBytes(head.ToString()));
        if (status != 204) stream.Write(body);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        _ => "Internal Server Error",
    };

    public void Dispose()
    {
        _disposed = true;
        listener.Dispose();
        foreach (var client in _clients.Keys) client.Dispose();
    }

    /// <summary>Reads a request head up to its blank line, keeping what follows it for the body and the next request.</summary>
    private sealed class HeadBuffer(NetworkStream stream)
    {
        private readonly byte[] _data = new byte[MaxHeadBytes];
        private int _start, _end;

        /// <summary>The head without its final CRLF CRLF; null at a clean end of the connection.</summary>
        public string? ReadHead()
        {
            while (true)
            {
                int at = _data.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
                if (at >= 0)
                {
                    string head = Encoding.ASCII.GetString(_data, _start, at);
                    _start += at + 4;
                    return head;
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_data, _start, _data, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                if (_end == _data.Length) throw new IOException("request head larger than 16 KiB");
                int n = stream.Read(_data, _end, _data.Length - _end);
                if (n == 0)
                {
                    if (_end == 0) return null;
                    throw new IOException("the connection ended inside a request head");
                }
                _end += n;
            }
        }

        public void ReadBody(Span<byte> body)
        {
            int buffered = Math.Min(body.Length, _end - _start);
            _data.AsSpan(_start, buffered).CopyTo(body);
            _start += buffered;
            if (buffered < body.Length) stream.ReadExactly(body[buffered..]);
        }
    }
}
