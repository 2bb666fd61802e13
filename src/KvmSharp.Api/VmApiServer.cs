using System.Net.Sockets;
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
        if (UnixFileType.IsSocket(path)) File.Delete(path);   // a previous run's
        else if (UnixFileType.Exists(path)) throw new IOException($"--api-sock: '{path}' exists and is not a socket; refusing to replace it");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the API socket needs Linux");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(16);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new IOException($"--api-sock: cannot listen on '{path}': {e.Message}");
        }
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
