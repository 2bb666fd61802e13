using System.Buffers.Binary;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices.Virtio.Balloon;

public class VirtioBalloonStateTests
{
    private const int Stats = 2;
    private const ulong Features = VirtioFeatures.Version1 | VirtioBalloonDevice.FeatureStatsQueue;

    private static void SubmitStats(VirtioDeviceHarness h, params (ushort Tag, ulong Value)[] entries)
    {
        var q = h.Drivers[Stats];
        ushort head = q.AddChain(((uint)(entries.Length * 10), false));
        var bytes = new byte[entries.Length * 10];
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 10), entries[i].Tag);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 10 + 2), entries[i].Value);
        }
        h.Memory.Write(q.BufferAddress(head), bytes);
        h.Submit(Stats, head);
    }

    /// <summary>A balloon with a target, the driver's actual, and a stats buffer held; paused and saved.</summary>
    private static VirtioBalloonState SavedBusyBalloon()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        device.SetTargetPages(300);
        device.WriteConfig(4, [0x2C, 0x01, 0, 0]);   // actual = 300
        SubmitStats(h, (4, 1234), (5, 5678));
        h.WaitUntil(() => device.Statistics.Sequence == 1, "the statistics");
        device.Pause();
        return StateFuzz.RoundTrip(device.SaveState());
    }

    [Fact]
    public void ARestoredBalloonKeepsItsSizesAndStatisticsAndHandsTheHeldBufferBackOnRequest()
    {
        var saved = SavedBusyBalloon();
        Assert.Equal(0, saved.HeldStatsHead);

        var device = new VirtioBalloonDevice(_ => { });
        device.RestoreState(saved);
        Assert.Equal((300u, 300u), (device.TargetPages, device.ActualPages));
        Assert.Equal((1L, 1234ul, 5678ul), (device.Statistics.Sequence, device.Statistics.Get(BalloonStatTag.FreeMemory), device.Statistics.Get(BalloonStatTag.TotalMemory)));
        Span<byte> config = stackalloc byte[8];
        device.ReadConfig(0, config);
        Assert.Equal(300u, BinaryPrimitives.ReadUInt32LittleEndian(config));

        using var h = new VirtioDeviceHarness(device, Features);
        h.Drivers[Stats].SetAvailIdx(1);   // the restored ring: the driver had posted one buffer, the device took it
        h.Drivers[Stats].Queue.RestoreState(h.Drivers[Stats].Queue.SaveState() with { NextAvail = 1 });
        h.Activate();
        Assert.True(device.RequestStatistics());
        h.WaitForUsed(Stats, 1);
        Assert.Equal((0u, 0u), h.Drivers[Stats].UsedElement(0));
        Assert.Null(h.Interrupts.NeedsResetReason);
    }

    [Fact]
    public void AHeldHeadBeyondTheRealQueueBreaksTheDeviceNotTheThread()
    {
        var device = new VirtioBalloonDevice(_ => { });
        device.RestoreState(SavedBusyBalloon() with { HeldStatsHead = 100 });   // the harness's queues have 16 entries
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        Assert.True(device.RequestStatistics());
        h.Interrupts.Wait();
        Assert.Contains("held statistics buffer", h.Interrupts.NeedsResetReason);
        Assert.DoesNotContain("unexpected", h.Interrupts.NeedsResetReason);
    }

    public static TheoryData<string, VirtioBalloonState> HostileStates()
    {
        var good = SavedBusyBalloon();
        return new()
        {
            { "balloon.HeldStatsHead", good with { HeldStatsHead = 128 } },
            { "balloon.HeldStatsHead", good with { HeldStatsHead = -2 } },
            { "balloon.Statistics", good with { Statistics = new BalloonStatEntry[65] } },
            { "balloon.Statistics[]", good with { Statistics = [null!] } },
            { "balloon.StatisticsSequence", good with { StatisticsSequence = -1 } },
            { "balloon.DiscardedPages", good with { DiscardedPages = -1 } },
        };
    }

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheField(string field, VirtioBalloonState state)
    {
        var device = new VirtioBalloonDevice(_ => { });
        string before = StateFuzz.Json(device.SaveState());
        var e = Assert.Throws<StateException>(() => device.RestoreState(state));
        Assert.StartsWith(field + ":", e.Message);
        Assert.Equal(before, StateFuzz.Json(device.SaveState()));
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException() =>
        Assert.True(StateFuzz.Run(() => new VirtioBalloonDevice(_ => { }), SavedBusyBalloon(), seed: 5005) > 0);
}
