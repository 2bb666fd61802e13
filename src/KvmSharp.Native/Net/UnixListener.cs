using System.Net.Sockets;
using System.Text;
using KvmSharp.Native.Libc;

namespace KvmSharp.Native.Net;

/// <summary>
/// A listening Unix stream socket at a path a user named (--api-sock, --incoming, a console or vsock socket).
/// The path appears only once the socket accepts connections, with mode 0600: it is bound and made to listen
/// under a temporary name beside it and renamed into place (rename(2) is atomic), so a client that waits for
/// the file never meets "connection refused" in the moment between bind(2) and listen(2), nor a socket that
/// others could use (unless the caller asks for a wider mode). A socket left by an earlier run is replaced; any other file at the path is refused, never deleted.
/// </summary>
public static class UnixListener
{
    /// <summary>sizeof(sockaddr_un.sun_path) less its terminating NUL (unix(7)).</summary>
    private const int MaxPathBytes = 107;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <param name="mode">
    /// The socket file's mode, 0600 unless a caller means others to connect (libvirt's read-only socket is 0666:
    /// connecting to a Unix socket needs write permission on its file, unix(7)).
    /// </param>
    /// <exception cref="IOException">The path holds something other than a socket, or the socket cannot be made.</exception>
    public static Socket Listen(string path, int backlog, UnixFileMode mode = OwnerOnly)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("Unix sockets here need Linux");
        path = Path.GetFullPath(path);
        if (UnixFileType.Exists(path) && !UnixFileType.IsSocket(path))
            throw new IOException($"'{path}' exists and is not a socket; refusing to replace it");
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            throw new IOException($"'{path}' is longer than a Unix socket path may be ({MaxPathBytes} bytes)");

        // The temporary name is no longer than the path when the path's own name has room for it.
        string directory = Path.GetDirectoryName(path)!;
        string temporary = Path.Combine(directory, $".{Environment.ProcessId:x}.{Random.Shared.Next():x}");
        if (Encoding.UTF8.GetByteCount(temporary) > MaxPathBytes) temporary = path;
        if (temporary == path && UnixFileType.IsSocket(path)) File.Delete(path);

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(temporary));
            File.SetUnixFileMode(temporary, mode);
            socket.Listen(backlog);
            if (temporary != path) File.Move(temporary, path, overwrite: true);
            return socket;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            if (temporary != path && UnixFileType.IsSocket(temporary)) File.Delete(temporary);
            throw new IOException($"cannot listen on '{path}': {e.Message}", e);
        }
    }
}
