using System.Net;
using System.Net.Sockets;
using KvmSharp.Native.Net;
using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Migration;

/// <summary>
/// Where a migration goes or comes from, in QEMU's words: <c>unix:PATH</c> (a Unix socket) or <c>tcp:HOST:PORT</c>.
/// </summary>
public sealed record MigrationUrl
{
    private MigrationUrl(EndPoint endPoint, string text)
    {
        EndPoint = endPoint;
        Text = text;
    }

    public EndPoint EndPoint { get; }

    /// <summary>The URL as given.</summary>
    public string Text { get; }

    public bool IsUnix => EndPoint is UnixDomainSocketEndPoint;

    /// <summary>Parses a URL; anything else is a <see cref="MigrationException"/> that says what is accepted.</summary>
    public static MigrationUrl Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.StartsWith("unix:", StringComparison.Ordinal) && url.Length > "unix:".Length)
            return new MigrationUrl(new UnixDomainSocketEndPoint(Path.GetFullPath(url["unix:".Length..])), url);
        if (url.StartsWith("tcp:", StringComparison.Ordinal))
        {
            string rest = url["tcp:".Length..];
            int colon = rest.LastIndexOf(':');
            if (colon > 0 && ushort.TryParse(rest[(colon + 1)..], out ushort port) && port != 0)
            {
                string host = rest[..colon].Trim('[', ']');
                return new MigrationUrl(IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port), url);
            }
        }
        throw new MigrationException($"'{url}' is not a migration URL: use unix:PATH or tcp:HOST:PORT");
    }

    /// <summary>Connects to the destination within <paramref name="timeout"/>.</summary>
    public Socket Connect(TimeSpan timeout)
    {
        var socket = NewSocket();
        try
        {
            using var cancel = new CancellationTokenSource(timeout);
            socket.ConnectAsync(EndPoint, cancel.Token).AsTask().GetAwaiter().GetResult();
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new MigrationException($"cannot connect to {Text}: {(e is OperationCanceledException ? "timed out" : e.Message)}", e);
        }
    }

    /// <summary>
    /// Listens for one source. A Unix socket left by an earlier run is replaced; any other file at the path is refused.
    /// </summary>
    public Socket Listen()
    {
        if (EndPoint is UnixDomainSocketEndPoint unix)
        {
            try { return UnixListener.Listen(unix.ToString(), backlog: 1); }
            catch (IOException e) { throw new MigrationException($"--incoming: {e.Message}", e); }
        }
        var socket = NewSocket();
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(EndPoint is DnsEndPoint dns ? new IPEndPoint(Dns.GetHostAddresses(dns.Host)[0], dns.Port) : EndPoint);
            socket.Listen(1);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new MigrationException($"cannot listen on {Text}: {e.Message}", e);
        }
    }

    private Socket NewSocket() => IsUnix
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
}
