using System.Net.Sockets;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Migration;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Tests.Machine.Migration;

/// <summary>Live migration between two controllers in this process, over a Unix socket.</summary>
public sealed class LiveMigrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-migrate").FullName;
    private readonly List<IDisposable> _owned = [];

    private string SocketUrl => "unix:" + Path.Combine(_dir, "incoming.sock");

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void AGuestDirtyingMemoryMovesAndKeepsEveryPage(string accelerator)
    {
        using var source = DirtyingGuest.Boot(accelerator, _dir, Track(new CapturingConsole()));
        WaitUntil(() => source.Current!.Memory.Read<uint>(DirtyingGuest.Passes) >= 2, () => "the guest never finished two passes");

        using var destination = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        var receiving = Task.Run(() => destination.ReceiveMigration(SocketUrl), TestContext.Current.CancellationToken);
        WaitUntil(() => File.Exists(SocketUrl[5..]) || receiving.IsCompleted, () => "the destination never listened");

        var done = source.Migrate(SocketUrl, new MigrationOptions { DowntimeBudget = TimeSpan.FromMilliseconds(50) });
        receiving.GetAwaiter().GetResult();

        Assert.Equal(MigrationState.Completed, done.State);
        Assert.Equal(MigrationState.Completed, source.MigrationStatus.State);
        Assert.True(done.BytesSent > 4 << 20, $"{done.BytesSent} bytes sent: less than the area the guest writes");
        Assert.True(done.Iterations >= 2);
        var sourceExit = source.Exit.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken) ? source.Exit.Result : null;
        Assert.Equal(MachineExitReason.Stopped, sourceExit?.Reason);
        Assert.Equal(0, sourceExit!.ExitStatus);

        Assert.Equal(MachinePhase.Running, destination.Phase);
        Assert.Equal(accelerator, destination.Current!.AcceleratorName);
        uint arrived = destination.Current.Memory.Read<uint>(DirtyingGuest.Passes);
        WaitUntil(() => destination.Current!.Memory.Read<uint>(DirtyingGuest.Passes) >= arrived + 2, () => "the migrated guest does not go on");
        destination.Pause();
        DirtyingGuest.CheckArea(destination.Current.Memory);
        Assert.Equal(0u, destination.Current.Memory.Read<uint>(DirtyingGuest.Errors));
    }

    [Fact]
    public void ADestinationThatIsNotThereLeavesTheSourceRunning()
    {
        using var source = DirtyingGuest.Boot("emulate", _dir, Track(new CapturingConsole()));
        var e = Assert.Throws<MigrationException>(() => source.Migrate(SocketUrl));
        Assert.Contains("cannot connect", e.Message);
        AssertRunsOnUnharmed(source, e.Message);
    }

    [Fact]
    public void ADestinationThatGoesAwayMidStreamLeavesTheSourceRunning()
    {
        using var source = DirtyingGuest.Boot("emulate", _dir, Track(new CapturingConsole()));
        WaitUntil(() => source.Current!.Memory.Read<uint>(DirtyingGuest.Passes) >= 1, () => "the guest never finished a pass");
        using var listener = MigrationUrl.Parse(SocketUrl).Listen();
        var peer = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var stream = new NetworkStream(connection);
            var header = new byte[MigrationFormat.HeaderBytes];
            stream.ReadExactly(header);
            stream.Write([(byte)MigrationReply.Accepted, 0, 0]);
            stream.ReadExactly(new byte[1 << 20]);   // some pages, then gone
        }, TestContext.Current.CancellationToken);
        var e = Assert.Throws<MigrationException>(() => source.Migrate(SocketUrl));
        peer.GetAwaiter().GetResult();
        AssertRunsOnUnharmed(source, e.Message);
    }

    [Fact]
    public void ADestinationThatRefusesTheVersionLeavesTheSourceRunningAndSaysWhy()
    {
        using var source = DirtyingGuest.Boot("emulate", _dir, Track(new CapturingConsole()));
        using var listener = MigrationUrl.Parse(SocketUrl).Listen();
        var peer = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var stream = new NetworkStream(connection);
            stream.ReadExactly(new byte[MigrationFormat.HeaderBytes]);
            byte[] reason = "this destination reads version 2"u8.ToArray();
            stream.Write([(byte)MigrationReply.Refused, (byte)reason.Length, 0, .. reason]);
        }, TestContext.Current.CancellationToken);
        var e = Assert.Throws<MigrationException>(() => source.Migrate(SocketUrl));
        peer.GetAwaiter().GetResult();
        Assert.Contains("reads version 2", e.Message);
        AssertRunsOnUnharmed(source, e.Message);
    }

    [Fact]
    public void ADestinationThatCannotOpenTheDisksRefusesAndNothingStartsThere()
    {
        string disk = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        KvmSharp.Tests.Kvm.KvmRequirement.EnsureFor("emulate");
        string kernel = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(kernel, DirtyingGuest.Image);
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(kernel),
            MemorySize = 64UL << 20,
            Accelerator = AcceleratorChoice.Emulate,
            Disks = [new DiskConfig(disk)],
        };
        using var source = new MachineController(config, new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        source.Start();
        using var destination = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        var receiving = Task.Run(() => destination.ReceiveMigration(SocketUrl), TestContext.Current.CancellationToken);
        WaitUntil(() => File.Exists(SocketUrl[5..]), () => "the destination never listened");
        File.Delete(disk);   // not shared after all

        var e = Assert.Throws<MigrationException>(() => source.Migrate(SocketUrl));
        Assert.Contains("disk.img", e.Message);
        Assert.ThrowsAny<Exception>(() => receiving.GetAwaiter().GetResult());
        Assert.Equal(MachinePhase.NotStarted, destination.Phase);
        Assert.Null(destination.Current);
        Assert.Equal(MachinePhase.Running, source.Phase);
    }

    [Fact]
    public void StoppingAWaitingDestinationEndsTheWait()
    {
        using var destination = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        var receiving = Task.Run(() => destination.ReceiveMigration(SocketUrl), TestContext.Current.CancellationToken);
        WaitUntil(() => File.Exists(SocketUrl[5..]), () => "the destination never listened");
        destination.Stop();
        var e = Assert.Throws<MachinePhaseException>(() => receiving.GetAwaiter().GetResult());
        Assert.Contains("waiting for a migration", e.Message);
        Assert.False(File.Exists(SocketUrl[5..]));
    }

    [Fact]
    public void OnlyARunningMachineMigratesAndTheUserCannotPauseDuringIt()
    {
        using var idle = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        Assert.Contains("has not started", Assert.Throws<MachinePhaseException>(() => idle.Migrate(SocketUrl)).Message);
        Assert.Contains("unix:PATH", Assert.Throws<MigrationException>(() => idle.Migrate("ftp://nowhere")).Message);
        Assert.Equal(MigrationState.None, idle.MigrationStatus.State);
    }

    private static void AssertRunsOnUnharmed(MachineController source, string why)
    {
        Assert.DoesNotContain('\n', why);
        Assert.Equal(MachinePhase.Running, source.Phase);
        Assert.Equal(MigrationState.Failed, source.MigrationStatus.State);
        Assert.Equal(why, source.MigrationStatus.Error);
        uint passes = source.Current!.Memory.Read<uint>(DirtyingGuest.Passes);
        WaitUntil(() => source.Current!.Memory.Read<uint>(DirtyingGuest.Passes) >= passes + 2, () => "the source does not go on after the failed migration");
        source.Pause();
        DirtyingGuest.CheckArea(source.Current.Memory);
        Assert.Equal(0u, source.Current.Memory.Read<uint>(DirtyingGuest.Errors));
        source.Resume();
    }

    private T Track<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static void WaitUntil(Func<bool> condition, Func<string> failure) => Poll.Until(condition, failure, seconds: 60);

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
