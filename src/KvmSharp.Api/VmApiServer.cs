using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using KvmSharp.Native.Libc;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Api;

/// <summary>
/// Serves a <see cref="VmApi"/> over HTTP/1.1 on a Unix socket with Kestrel. The socket is bound and made mode
/// 0600 before it listens, so no other user can connect in between; an existing socket file (a previous run's)
/// is replaced, any other file at the path is refused.
/// </summary>
public sealed class VmApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Socket _listener;
    private readonly string _path;

    private VmApiServer(WebApplication app, Socket listener, string path)
    {
        _app = app;
        _listener = listener;
        _path = path;
    }

    public static async Task<VmApiServer> StartAsync(string socketPath, VmApi api)
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

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options =>
        {
            options.ListenHandle((ulong)listener.Handle);
            options.AddServerHeader = false;
            // RequestBody enforces the API's own limit with a 400; this only stops a runaway upload.
            options.Limits.MaxRequestBodySize = 1 << 20;
            options.Limits.MaxRequestHeadersTotalSize = 16 << 10;
        });
        var app = builder.Build();
        app.Run(api.Handle);
        await app.StartAsync();
        return new VmApiServer(app, listener, path);
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2))) await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
        _listener.Dispose();
        if (UnixFileType.IsSocket(_path)) File.Delete(_path);
    }
}
