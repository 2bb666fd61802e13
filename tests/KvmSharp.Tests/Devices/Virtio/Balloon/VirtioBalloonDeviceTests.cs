using System.Buffers.Binary;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Memory;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio.Balloon;

public class VirtioBalloonDeviceTests
{
    private const int Inflate = 0, Deflate = 1, Stats = 2;
    private const ulong Features = VirtioFeatures.Version1 | VirtioBalloonDevice.FeatureStatsQueue;

    // Pages far from every queue's rings and buffers (each queue's layout fills the first ~1 MiB of its 4 MiB slice).
    private static readonly GuestAddress PageA = new(0x3F_0000);
    private static readonly GuestAddress PageB = new(0x3F_1000);

    [Fact]
    public void InflatedPagesGoBackToTheHostAndReadAsZero()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Memory.GetSpan(PageA, 4096).Fill(0xAB);
        h.Memory.GetSpan(PageB, 4096).Fill(0xCD);
        h.Activate();

        SubmitPfns(h, Inflate, (uint)(PageA.Value / 4096));
        h.WaitForUsed(Inflate, 1);

        Assert.Equal(0u, h.Drivers[Inflate].UsedElement(0).Length);
        Assert.True(h.Memory.GetSpan(PageA, 4096).IndexOfAnyExcept((byte)0) < 0, "the inflated page still holds its bytes");
        Assert.True(h.Memory.GetSpan(PageB, 4096).IndexOfAnyExcept((byte)0xCD) < 0, "a page not in the balloon changed");
        Assert.Equal(1, device.DiscardedPages);
        Assert.Equal(0, device.InvalidPages);
    }

    [Fact]
    public void PfnsOutsideRamAreSkippedAndCounted()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Memory.GetSpan(PageA, 4096).Fill(0xAB);
        h.Activate();

        // 12 MiB of RAM = PFNs 0..0xBFF; 0xC00 is one page past the end, 0xFFFFFFFF is 16 TiB up.
        SubmitPfns(h, Inflate, 0xFFFF_FFFF, 0xC00, (uint)(PageA.Value / 4096));
        h.WaitForUsed(Inflate, 1);

        Assert.Equal(2, device.InvalidPages);
        Assert.Equal(1, device.DiscardedPages);
        Assert.True(h.Memory.GetSpan(PageA, 4096).IndexOfAnyExcept((byte)0) < 0);
        Assert.Empty(h.Interrupts.NeedsReset);
    }

    [Fact]
    public void APartialEntryAndWritableBuffersCarryNoPages()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        var q = h.Drivers[Inflate];
        ushort head = q.AddChain((6, false), (8, true));   // one PFN and 2 stray bytes; then a device-writable buffer
        h.Memory.Write(q.BufferAddress(head), (uint)(PageA.Value / 4096));
        h.Memory.Write(q.BufferAddress((ushort)(head + 1)), 0x0000_0300_0000_03F1ul);   // PFNs in a writable buffer are not requests
        h.Submit(Inflate, head);
        h.WaitForUsed(Inflate, 1);

        Assert.Equal(1, device.DiscardedPages);
        Assert.Equal(1, device.InvalidPages);
    }

    [Fact]
    public void OneRequestTakesAtMostMaxPagesPerRequest()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        int count = VirtioBalloonDevice.MaxPagesPerRequest + 10;
        var pfns = Enumerable.Repeat((uint)(PageA.Value / 4096), count).ToArray();
        SubmitPfns(h, Inflate, pfns);
        h.WaitForUsed(Inflate, 1);
        Assert.Equal(VirtioBalloonDevice.MaxPagesPerRequest, device.DiscardedPages);
        Assert.Equal(10, device.InvalidPages);
    }

    [Fact]
    public void DeflateIsAcknowledged()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Memory.GetSpan(PageB, 4096).Fill(0xCD);
        h.Activate();
        SubmitPfns(h, Deflate, (uint)(PageB.Value / 4096), 0xFFFF_FFFF);
        h.WaitForUsed(Deflate, 1);
        Assert.Equal(0u, h.Drivers[Deflate].UsedElement(0).Length);
        Assert.Equal(1, device.DeflatedPages);
        Assert.Equal(1, device.InvalidPages);
        Assert.True(h.Memory.GetSpan(PageB, 4096).IndexOfAnyExcept((byte)0xCD) < 0, "deflate must not touch the page");
    }

    [Fact]
    public void StatisticsAreParsedHeldAndReturnedOnRequest()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        Assert.Same(BalloonStatistics.None, device.Statistics);

        SubmitStats(h, (4, 1234), (5, 0x1_0000_0000), (0x77, 9));
        h.WaitUntil(() => device.Statistics.Sequence == 1, "the first statistics");
        var first = device.Statistics;
        Assert.Equal(1234ul, first.Get(BalloonStatTag.FreeMemory));
        Assert.Equal(0x1_0000_0000ul, first.Get(BalloonStatTag.TotalMemory));
        Assert.Null(first.Get(BalloonStatTag.SwapIn));
        Assert.Contains(((ushort)0x77, 9ul), first.Entries);   // an unknown tag is kept
        Assert.Equal(0, h.Drivers[Stats].UsedIdx);             // held until the host asks

        Assert.True(device.RequestStatistics());
        h.WaitForUsed(Stats, 1);
        Assert.Equal(0u, h.Drivers[Stats].UsedElement(0).Length);

        SubmitStats(h, (4, 999));
        h.WaitUntil(() => device.Statistics.Sequence == 2, "the refreshed statistics");
        Assert.Equal(999ul, device.Statistics.Get(BalloonStatTag.FreeMemory));
    }

    [Fact]
    public void AnOversizedStatsBufferIsCutAtMaxEntries()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        var entries = Enumerable.Range(0, 100).Select(i => ((ushort)4, (ulong)i)).ToArray();
        SubmitStats(h, entries);
        h.WaitUntil(() => device.Statistics.Sequence == 1, "statistics");
        Assert.Equal(BalloonStatistics.MaxEntries, device.Statistics.Entries.Count);
        Assert.Equal((ulong)(BalloonStatistics.MaxEntries - 1), device.Statistics.Get(BalloonStatTag.FreeMemory));
    }

    [Fact]
    public void TargetChangeRaisesAConfigChangeAndShowsInNumPages()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        device.SetTargetPages(7);                 // not running: nothing to tell
        Assert.Equal(0, h.Interrupts.ConfigChanges);
        h.Activate();
        device.SetTargetPages(0x1234);
        Assert.Equal(1, h.Interrupts.ConfigChanges);

        Span<byte> config = stackalloc byte[8];
        device.ReadConfig(0, config);
        Assert.Equal(0x1234u, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Span<byte> numPagesHigh = stackalloc byte[2];
        device.ReadConfig(2, numPagesHigh);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(numPagesHigh));
    }

    [Fact]
    public void TheDriverWritesActualButNotNumPages()
    {
        var device = new VirtioBalloonDevice(_ => { });
        device.SetTargetPages(100);
        Span<byte> write = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(write, 5);
        BinaryPrimitives.WriteUInt32LittleEndian(write[4..], 0x0102_0304);
        device.WriteConfig(0, write);
        Assert.Equal(100u, device.TargetPages);
        Assert.Equal(0x0102_0304u, device.ActualPages);
        device.WriteConfig(6, [0xAA]);            // one byte of actual
        Assert.Equal(0x01AA_0304u, device.ActualPages);
    }

    [Fact]
    public void AMalformedStatsChainMarksTheDeviceBroken()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, Features);
        h.Activate();
        h.Drivers[Stats].SetDescriptor(0, 0xFFFF_FFFF_0000ul, 10, 0);
        h.Submit(Stats, 0);
        h.WaitUntil(() => !h.Interrupts.NeedsReset.IsEmpty, "NEEDS_RESET");
        Assert.Contains("outside guest RAM", h.Interrupts.NeedsReset.Single());
    }

    [Fact]
    public void WithoutTheStatsFeatureTheStatsQueueMayStayDisabled()
    {
        var device = new VirtioBalloonDevice(_ => { });
        using var h = new VirtioDeviceHarness(device, VirtioFeatures.Version1, enable: false);
        h.Drivers[Inflate].Enable();
        h.Drivers[Deflate].Enable();
        h.Activate();
        Assert.True(device.RequestStatistics());   // nothing held: a no-op, not a failure
        SubmitPfns(h, Inflate, (uint)(PageA.Value / 4096));
        h.WaitForUsed(Inflate, 1);
        Assert.Empty(h.Interrupts.NeedsReset);
    }

    private static void SubmitPfns(VirtioDeviceHarness h, int queue, params uint[] pfns)
    {
        var q = h.Drivers[queue];
        ushort head = q.AddChain(((uint)(pfns.Length * 4), false));
        var bytes = new byte[pfns.Length * 4];
        for (int i = 0; i < pfns.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), pfns[i]);
        h.Memory.Write(q.BufferAddress(head), bytes);
        h.Submit(queue, head);
    }

    /// <summary>The driver's stats buffer: packed le16 tag + le64 value (virtio 1.2 §5.5.6.3).</summary>
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
}
