using System.Net.Sockets;
using KvmSharp.Native.Net;
using KvmSharp.Api.Http;
using KvmSharp.Native.Libc;

namespace KvmSharp.Api;

/// <summary>
/// Serves a <see cref="VmApi"/> over HTTP/1.1 on a Unix socket (<see cref="HttpServer"/>). The socket is bound and
/// made mode 0600 before it listens, so no other user can connect in between; an existing socket file (a previous
/// run's) is replaced, any other file at the path is refused.
/// </summary>
public sealed class VmApiServer : IDisposable
{
    private readonly HttpServer _server;
    private readonly string _path;

    private VmApiServer(HttpServer server, string path)
    {
        _server = server;
        _path = path;
    }

    public static VmApiServer Start(string socketPath, VmApi api)
    {
        string path = Path.GetFullPath(socketPath);
        Socket listener;
        try { listener = UnixListener.Listen(path, backlog: 16); }
        catch (IOException e) { throw new IOException($"--api-sock: {e.Message}", e); }
        var server = new HttpServer(listener, api.Handle);
        server.Start();
        return new VmApiServer(server, path);
    }

    public void Dispose()
    {
        _server.Dispose();
        if (UnixFileType.IsSocket(_path)) File.Delete(_path);
    }
}
