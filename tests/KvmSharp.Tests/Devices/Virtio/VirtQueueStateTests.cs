using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>A split virtqueue's <see cref="QueueState"/>: positions continue, rings are checked as at enable.</summary>
public class VirtQueueStateTests
{
    [Fact]
    public void ARestoredQueueTakesTheNextChainAndPublishesAfterTheLastUsed()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable(eventIdx: true);
        ushort[] heads = [driver.AddChain((16, true)), driver.AddChain((16, true)), driver.AddChain((16, true))];
        foreach (var head in heads) driver.Publish(head);
        Assert.True(driver.Queue.TryPopAvailable(out var first));
        driver.Queue.AddUsed(first.Head, 16);
        Assert.True(driver.Queue.NeedsInterrupt());
        Assert.True(driver.Queue.TryPopAvailable(out var second));   // taken, not yet used: the device's, so it stays taken
        var saved = StateFuzz.RoundTrip(driver.Queue.SaveState());
        Assert.Equal((2, 1, true), (saved.NextAvail, saved.NextUsed, saved.EventIdx));

        var restored = new VirtQueue(driver.Memory);
        restored.RestoreState(saved);
        Assert.True(restored.IsReady);
        restored.AddUsed(second.Head, 16);
        Assert.True(restored.TryPopAvailable(out var third));
        Assert.Equal(heads[2], third.Head);
        restored.AddUsed(third.Head, 16);
        Assert.Equal(3, driver.UsedIdx);
        Assert.Equal((heads[2], 16u), driver.UsedElement(2));
        Assert.False(restored.TryPopAvailable(out _));
        Assert.Equal(3, driver.AvailEvent);   // EVENT_IDX: asks for a notification at the next buffer
    }

    [Fact]
    public void UndoPopGivesTheLatestChainsBack()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        ushort a = driver.AddChain((16, true)), b = driver.AddChain((16, true));
        driver.Publish(a);
        driver.Publish(b);
        Assert.True(driver.Queue.TryPopAvailable(out _));
        Assert.True(driver.Queue.TryPopAvailable(out _));
        driver.Queue.UndoPop(2);
        Assert.True(driver.Queue.TryPopAvailable(out var again));
        Assert.Equal(a, again.Head);
    }

    [Fact]
    public void AQueueThatIsNotReadyComesBackReset()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        var restored = new VirtQueue(driver.Memory);
        restored.RestoreState(new VirtQueue(driver.Memory).SaveState());
        Assert.False(restored.IsReady);
        Assert.False(restored.TryPopAvailable(out _));
    }

    public static TheoryData<string, Func<QueueState, QueueState>> HostileStates() => new()
    {
        { "queue.MaxSize", s => s with { MaxSize = 256 } },
        { "queue.Size", s => s with { Size = 0 } },
        { "queue.Size", s => s with { Size = 12 } },
        { "queue.Size", s => s with { Size = 65535 } },
        { "queue.DescriptorTable", s => s with { DescriptorTable = s.DescriptorTable + 8 } },
        { "queue.DescriptorTable", s => s with { DescriptorTable = ulong.MaxValue - 15 } },
        { "queue.DriverRing", s => s with { DriverRing = LayoutSize - 2 } },
        { "queue.DeviceRing", s => s with { DeviceRing = s.DeviceRing + 2 } },
        { "queue.NextAvail", s => s with { Ready = false } },
    };

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheField(string field, Func<QueueState, QueueState> change)
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(driver.AddChain((16, true)));
        Assert.True(driver.Queue.TryPopAvailable(out _));
        var good = driver.Queue.SaveState();
        var fresh = new VirtQueue(driver.Memory);
        var e = Assert.Throws<StateException>(() => fresh.RestoreState(change(good)));
        Assert.StartsWith(field + ":", e.Message);
        Assert.False(fresh.IsReady);
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable(eventIdx: true);
        driver.Publish(driver.AddChain((16, true)));
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        driver.Queue.AddUsed(chain.Head, 1);
        Assert.True(StateFuzz.Run(() => new VirtQueue(driver.Memory), driver.Queue.SaveState(), seed: 27) > 0);
    }
}
