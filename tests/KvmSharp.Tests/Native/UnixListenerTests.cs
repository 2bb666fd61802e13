using System.Net.Sockets;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Tests.Native;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UnixListenerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-listener").FullName;

    [Fact]
    public void TheSocketAppearsListeningWithMode0600AndNoTemporaryNameIsLeft()
    {
        string path = Path.Combine(_dir, "api.sock");
        using var listener = UnixListener.Listen(path, backlog: 1);

        Assert.True(UnixFileType.IsSocket(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir));
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        using var accepted = listener.Accept();
        Assert.True(accepted.Connected);
    }

    [Fact]
    public void AWiderModeIsGivenWhenAskedFor()
    {
        string path = Path.Combine(_dir, "ro.sock");
        const UnixFileMode everyone = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

        using var listener = UnixListener.Listen(path, backlog: 1, everyone);

        Assert.Equal(everyone, File.GetUnixFileMode(path));
    }

    [Fact]
    public void ASocketLeftByAnEarlierRunIsReplaced()
    {
        string path = Path.Combine(_dir, "stale.sock");
        UnixListener.Listen(path, backlog: 1).Dispose();   // the file stays, as after a crash
        Assert.True(UnixFileType.IsSocket(path));

        using var listener = UnixListener.Listen(path, backlog: 1);
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
    }

    [Fact]
    public void AnyOtherFileAtThePathIsRefusedAndKept()
    {
        string path = Path.Combine(_dir, "precious.txt");
        File.WriteAllText(path, "keep me");

        var e = Assert.Throws<IOException>(() => UnixListener.Listen(path, backlog: 1));

        Assert.Equal($"'{path}' exists and is not a socket; refusing to replace it", e.Message);
        Assert.Equal("keep me", File.ReadAllText(path));
    }

    [Fact]
    public void AMissingDirectoryIsOneClearError()
    {
        string path = Path.Combine(_dir, "no-such-dir", "api.sock");

        var e = Assert.Throws<IOException>(() => UnixListener.Listen(path, backlog: 1));

        Assert.StartsWith($"cannot listen on '{path}': ", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void APathTooLongForSunPathIsRefused()
    {
        string path = Path.Combine(_dir, new string('s', 120));

        var e = Assert.Throws<IOException>(() => UnixListener.Listen(path, backlog: 1));

        Assert.Contains("longer than a Unix socket path may be", e.Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
