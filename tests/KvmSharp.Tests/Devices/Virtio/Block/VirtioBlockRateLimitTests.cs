using System.Diagnostics;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Memory;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Devices.Virtio.Block;

/// <summary>A rate-limited virtio-blk: requests beyond the budget stay in the ring, then are served when tokens are there.</summary>
public sealed class VirtioBlockRateLimitTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private BlockDeviceHarness Limited(RateLimiterConfig config)
    {
        string path = _scratch.PathOf($"disk-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(path, new byte[1 << 20]);
        var device = VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { });
        device.LimitRate(config);
        return new BlockDeviceHarness(device);
    }

    /// <summary>Publishes a 4 KiB read of sector <paramref name="sector"/> and notifies; returns its status byte's address.</summary>
    private static ulong PublishRead(BlockDeviceHarness h, ulong sector)
    {
        ushort head = h.Driver.AddChain(out var at, (16, false), (4096, true), (1, true));
        h.WriteHeader(at[0], BlockDeviceHarness.In, sector);
        h.Memory.Write(new GuestAddress(at[2]), (byte)0xEE);
        h.Driver.Publish(head);
        h.Notify();
        return at[2];
    }

    [Fact]
    public void ARequestBeyondTheOpsBudgetIsHeldThenServedWhenATokenIsThere()
    {
        // One request per 400 ms: the second waits in the ring for the refill.
        using var h = Limited(new RateLimiterConfig(Ops: new TokenBucketConfig(Size: 1, RefillTime: 400)));
        var clock = Stopwatch.StartNew();   // before the first request: its token is what refills
        Assert.Equal(BlockDeviceHarness.Ok, h.Request(BlockDeviceHarness.Flush, 0).Status);
        ulong status = PublishRead(h, 8);
        Thread.Sleep(100);
        Assert.Equal((ushort)1, h.Driver.UsedIdx);
        Assert.Equal((byte)0xEE, h.Memory.Read<byte>(new GuestAddress(status)));
        BlockDeviceHarnessWait.UntilUsed(h, 2);
        Assert.True(clock.ElapsedMilliseconds >= 400, $"served after {clock.ElapsedMilliseconds} ms, before the refill");
        Assert.Equal(BlockDeviceHarness.Ok, h.Memory.Read<byte>(new GuestAddress(status)));
        Assert.Null(h.Interrupts.NeedsResetReason);
    }

    [Fact]
    public void TheBandwidthBucketCountsDataBytesAndTheBurstGoesFirst()
    {
        // 8 KiB burst, then 4 KiB per 300 ms: two 4 KiB reads at once, the third after a refill of 4 KiB.
        using var h = Limited(new RateLimiterConfig(Bandwidth: new TokenBucketConfig(Size: 4096, RefillTime: 300, OneTimeBurst: 8192)));
        var clock = Stopwatch.StartNew();
        h.Read(0, 4096);
        h.Read(8, 4096);
        h.Read(16, 4096);   // the budget's 4096
        PublishRead(h, 24);
        Thread.Sleep(100);
        Assert.Equal((ushort)3, h.Driver.UsedIdx);
        BlockDeviceHarnessWait.UntilUsed(h, 4);
        Assert.True(clock.ElapsedMilliseconds >= 300, $"served after {clock.ElapsedMilliseconds} ms");
        var saved = h.Device.SaveState().RateLimiter!.Bandwidth!;
        Assert.Equal(0ul, saved.OneTimeBurstLeft);
    }

    [Fact]
    public void APausedDeviceWithAPendingTimerServesNothingUntilResumed()
    {
        using var h = Limited(new RateLimiterConfig(Ops: new TokenBucketConfig(Size: 1, RefillTime: 200)));
        Assert.Equal(BlockDeviceHarness.Ok, h.Request(BlockDeviceHarness.Flush, 0).Status);
        ulong status = PublishRead(h, 8);
        Thread.Sleep(50);        // the device has refused it and armed its timer
        h.Device.Pause();
        Thread.Sleep(400);       // the timer falls due while paused
        Assert.Equal((ushort)1, h.Driver.UsedIdx);
        Assert.Equal((byte)0xEE, h.Memory.Read<byte>(new GuestAddress(status)));
        h.Device.Resume();
        BlockDeviceHarnessWait.UntilUsed(h, 2);
        Assert.Equal(BlockDeviceHarness.Ok, h.Memory.Read<byte>(new GuestAddress(status)));
    }

    [Fact]
    public void TheBudgetIsSavedAndARestoredDeviceKeepsIt()
    {
        using var h = Limited(new RateLimiterConfig(Ops: new TokenBucketConfig(Size: 5, RefillTime: 100_000)));
        for (int i = 0; i < 3; i++) Assert.Equal(BlockDeviceHarness.Ok, h.Request(BlockDeviceHarness.Flush, 0).Status);
        h.Device.Pause();
        var saved = h.Device.SaveState();
        Assert.Equal(2, saved.RateLimiter!.Ops!.Budget);

        string path = _scratch.PathOf("other.raw");
        File.WriteAllBytes(path, new byte[1 << 20]);
        using var other = VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { });
        other.RestoreState(saved);
        // The refill clock runs on from the restore, so only the fraction of a token may have grown since.
        var ops = other.SaveState().RateLimiter!.Ops!;
        Assert.Equal(saved.RateLimiter.Ops with { RefillRemainder = ops.RefillRemainder }, ops);
        Assert.True(ops.RefillRemainder >= saved.RateLimiter.Ops.RefillRemainder);
        Assert.Equal(new TokenBucketConfig(5, 100_000), other.RateLimiter.Config.Ops);
    }
}
