using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Native;

/// <summary>
/// What a <see cref="FileDescriptor"/> promises: fd 0 is a descriptor like any other, a call holds the descriptor
/// open (a Dispose meanwhile closes it after), and a call after Dispose never reaches a file that reused the number.
/// These tests move fd 0 and watch numbers being reused, so they run alone.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed unsafe class FileDescriptorTests
{
    [Fact]
    public void Fd0IsValidUsableAndClosedByDispose()
    {
        int savedStdin = TestDescriptors.Dup(0);
        Assert.True(savedStdin > 2);
        var (ours, peer) = TestDescriptors.SocketPair(NetImports.SOCK_SEQPACKET);
        try
        {
            // Put our end of the pair at fd 0 (dup2 replaces stdin atomically) and own it through a handle.
            Assert.Equal(0, TestDescriptors.Dup2(TestDescriptors.NumberOf(ours), 0));
            var zero = new FileDescriptor(0);
            Assert.False(zero.IsInvalid);

            Assert.Equal(0, FrameIo.Write(peer, "ping"u8));
            Assert.True(HandlePoll.Wait(zero, LibcConstants.POLLIN, 1000) > 0, "fd 0 was not polled");
            var buffer = new byte[16];
            Assert.Equal(4, FrameIo.Read(zero, buffer));
            Assert.Equal("ping"u8.ToArray(), buffer[..4]);
            Assert.Equal(0, FrameIo.Write(zero, "pong"u8));
            Assert.Equal(4, FrameIo.Read(peer, buffer));

            // Dispose closes fd 0 (the pair's other copy, `ours`, still holds the socket: the peer sees no hang-up
            // until that closes too, so check fd 0 itself).
            zero.Dispose();
            Assert.False(TestDescriptors.IsOpen(0), "Dispose left fd 0 open");
        }
        finally
        {
            TestDescriptors.Dup2(savedStdin, 0);
            LibcImports.Close(savedStdin);
            ours.Dispose();
            peer.Dispose();
        }
    }

    [Fact]
    public void OnlyMinusOneIsInvalid()
    {
        using var none = new FileDescriptor(-1);
        Assert.True(none.IsInvalid);
        var zero = new FileDescriptor(0);
        Assert.False(zero.IsInvalid);
        zero.SetHandleAsInvalid();   // stdin is not ours to close
    }

    [Fact]
    public void ALeaseKeepsTheDescriptorOpenAcrossADisposeAndTheNumberIsNotReusedMeanwhile()
    {
        var (a, b) = TestDescriptors.SocketPair();
        using var peer = b;
        int number = TestDescriptors.NumberOf(a);
        var lease = new HandleLease(a);
        a.Dispose();
        Assert.False(a.IsClosed);   // disposed, but closed only when the last reference goes
        Assert.True(TestDescriptors.IsOpen(number), "the descriptor closed under a lease");
        using (var other = File.OpenHandle(Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose))
            Assert.NotEqual(number, (int)other.DangerousGetHandle());
        lease.Dispose();
        Assert.True(a.IsClosed);
        Assert.False(TestDescriptors.IsOpen(number), "the descriptor stayed open after its last lease");
        Assert.False(HandleLease.TryTake(a, out var late));
        Assert.Equal(-1, late.Number);
        Assert.Throws<ObjectDisposedException>(() => { using var again = new HandleLease(a); });
    }

    [Fact]
    public void CallsOnADisposedHandleAnswerEbadfOrNothingAndTouchNoFileThatReusedTheNumber()
    {
        var (a, b) = TestDescriptors.SocketPair();
        using var peer = b;
        int number = TestDescriptors.NumberOf(a);
        a.Dispose();
        string path = Path.GetTempFileName();
        try
        {
            using var reused = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            Assert.Equal(number, (int)reused.DangerousGetHandle());   // the lowest free number: the one just freed

            Assert.Equal(-9, FrameIo.Write(a, "late frame"u8));
            Assert.Equal(-9, FrameIo.Read(a, new byte[16]));
            Assert.Equal(-9, StreamIo.Send(a, "late bytes"u8));
            Assert.Equal(-9, StreamIo.Receive(a, new byte[16]));
            Assert.Equal(0, HandlePoll.Wait(a, LibcConstants.POLLIN | LibcConstants.POLLOUT, 0));
            Assert.Throws<ObjectDisposedException>(() => WriteCounter(a));   // the SafeHandle overloads refuse
            Assert.Equal(0, new FileInfo(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void WriteCounter(FileDescriptor fd)
    {
        ulong one = 1;
        LibcImports.Write(fd, &one, sizeof(ulong));
    }

    [Fact]
    public void TheHazardTheseTestsLookForIsReal()
    {
        // What the code did before handles were leased: a number kept past Dispose writes into whatever reused it.
        var notifier = new EventNotifier();
        int number = TestDescriptors.NumberOf(notifier.Handle);
        notifier.Dispose();
        string path = Path.GetTempFileName();
        try
        {
            using var reused = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            Assert.Equal(number, (int)reused.DangerousGetHandle());
            ulong one = 1;
            Assert.Equal(sizeof(ulong), (int)LibcImports.Write(number, &one, sizeof(ulong)));
            Assert.Equal(sizeof(ulong), new FileInfo(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AnEventNotifierSignalledAfterDisposeWritesNowhere()
    {
        var notifier = new EventNotifier();
        notifier.Signal();
        Assert.True(notifier.Drain());
        int number = TestDescriptors.NumberOf(notifier.Handle);
        notifier.Dispose();
        string path = Path.GetTempFileName();
        try
        {
            using var reused = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            Assert.Equal(number, (int)reused.DangerousGetHandle());
            notifier.Signal();
            Assert.False(notifier.Drain());
            Assert.Equal(0, new FileInfo(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
