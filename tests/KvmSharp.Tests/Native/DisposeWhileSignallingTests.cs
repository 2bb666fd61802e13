using System.Collections.Concurrent;
using KvmSharp.Devices.Virtio;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Native;

/// <summary>
/// Objects disposed while other threads still signal or write through their descriptors, round after round: right
/// after each Dispose the test opens files, which take the numbers just freed (the lowest free number), and lets the
/// other threads go on a while. A late signal that went by number would land in those files; they must stay empty,
/// and no exception may escape a signalling thread. The tests watch number reuse, so they run alone.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class DisposeWhileSignallingTests : IDisposable
{
    private const int Rounds = 150;
    /// <summary>Files opened after each Dispose: enough to take every number it freed (a device loop frees its own wake-up eventfd too).</summary>
    private const int VictimsPerRound = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-handles").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AnEventNotifierDisposedWhileAThreadSignalsIt()
    {
        RunRounds(() =>
        {
            var notifier = new EventNotifier();
            return new Target(notifier, [TestDescriptors.NumberOf(notifier.Handle)], notifier.Signal);
        });
    }

    [Fact]
    public void ADeviceLoopDisposedWithItsDoorbellWhileThreadsPostAndRing()
    {
        RunRounds(() =>
        {
            var doorbell = new EventNotifier();
            var faults = new ConcurrentQueue<Exception>();
            var loop = new DeviceEventLoop("handles-test", faults.Enqueue);
            loop.Watch(doorbell.Handle, LibcConstants.POLLIN, _ => doorbell.Drain());
            loop.Start();
            // The device's own order: stop the loop, then close what it watched.
            var device = new DisposeAll(() =>
            {
                loop.Dispose();
                doorbell.Dispose();
                Assert.Empty(faults);
            });
            return new Target(device, [TestDescriptors.NumberOf(doorbell.Handle)], () =>
            {
                doorbell.Signal();
                loop.Post(static () => { });
            });
        });
    }

    [Fact]
    public void AFrameDescriptorDisposedWhileAThreadWritesFramesToIt()
    {
        RunRounds(() =>
        {
            var (ours, peer) = TestDescriptors.SocketPair();
            var both = new DisposeAll(() => { ours.Dispose(); peer.Dispose(); });
            return new Target(both, [TestDescriptors.NumberOf(ours), TestDescriptors.NumberOf(peer)], () =>
            {
                int r = FrameIo.Write(ours, "a frame from a tap reader"u8);
                // Sent, EAGAIN (peer full), EBADF (ours closed), EPIPE or ECONNRESET (the peer closed first).
                if (r is not (0 or -11 or -9 or -32 or -104)) throw new InvalidOperationException($"FrameIo.Write answered {r}");
                FrameIo.Read(peer, new byte[64]);
            });
        });
    }

    private sealed record Target(IDisposable Owner, int[] Numbers, Action Signal);

    private sealed class DisposeAll(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    /// <summary>Each round: a thread signals the target without pause; the target is disposed; files take the freed numbers; the thread goes on.</summary>
    private void RunRounds(Func<Target> make)
    {
        var escaped = new ConcurrentQueue<Exception>();
        int numbersReused = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var target = make();
            long signals = 0;
            bool stop = false;
            var signaller = new Thread(() =>
            {
                try
                {
                    while (!Volatile.Read(ref stop))
                    {
                        target.Signal();
                        Interlocked.Increment(ref signals);
                    }
                }
                catch (Exception e)
                {
                    escaped.Enqueue(e);
                }
            }) { IsBackground = true };
            signaller.Start();
            while (Interlocked.Read(ref signals) < 10) Thread.Yield();

            target.Owner.Dispose();
            // A call in flight holds its reference: the descriptor closes when that call returns, a moment later.
            var closing = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (target.Numbers.Any(TestDescriptors.IsOpen) && DateTime.UtcNow < closing) Thread.Yield();
            Assert.False(target.Numbers.Any(TestDescriptors.IsOpen), $"round {round}: a disposed descriptor stayed open");
            var victims = new List<(string Path, Microsoft.Win32.SafeHandles.SafeFileHandle Handle)>();
            for (int i = 0; i < VictimsPerRound; i++)
            {
                string path = Path.Combine(_dir, $"victim-{round}-{i}");
                var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
                victims.Add((path, handle));
                if (target.Numbers.Contains((int)handle.DangerousGetHandle())) numbersReused++;
            }
            // Let the thread signal the disposed target a good while longer.
            long after = Interlocked.Read(ref signals);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (Interlocked.Read(ref signals) < after + 200 && signaller.IsAlive && DateTime.UtcNow < deadline) Thread.Yield();
            Volatile.Write(ref stop, true);
            signaller.Join();

            foreach (var (path, handle) in victims)
            {
                handle.Dispose();
                Assert.True(new FileInfo(path).Length == 0, $"round {round}: a late signal wrote into {Path.GetFileName(path)}, which took a freed number");
            }
            Assert.Empty(escaped);
        }
        // The scenario must really have happened: the freed numbers went to the test's files.
        Assert.True(numbersReused >= Rounds / 2, $"only {numbersReused} of {Rounds} rounds reused a freed number");
    }
}
