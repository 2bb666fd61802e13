using KvmSharp.Accelerators.Kvm;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Kvm;

/// <summary>The GSI routing table and the MSI → irqfd cache, against a fake kernel (no /dev/kvm needed).</summary>
public class MsiRouteCacheTests
{
    [Fact]
    public void RoutingTableRepeatsTheKernelsDefaultRoutesThenTheMsiRoutes()
    {
        var table = KvmIrqRoutingTable.Build([new MsiRoute(0x1_FEE0_1000, 0x4041, 24), new MsiRoute(0xFEE0_0000, 0x30, 25)]);
        // Linux kvm_setup_default_irq_routing: GSI 0–15 to IOAPIC pin gsi and 8259 pin gsi%8, 16–23 to the IOAPIC.
        var irqchip = table.Where(e => e.Type == KvmIrqRoutingEntry.TypeIrqchip).Select(e => (e.Gsi, e.Chip, e.Pin)).ToHashSet();
        Assert.Equal(16 * 2 + 8, irqchip.Count);
        for (uint gsi = 0; gsi < 24; gsi++)
        {
            Assert.Contains((gsi, KvmIrqRoutingEntry.ChipIoapic, gsi), irqchip);
            if (gsi < 16) Assert.Contains((gsi, gsi < 8 ? KvmIrqRoutingEntry.ChipPicMaster : KvmIrqRoutingEntry.ChipPicSlave, gsi % 8), irqchip);
        }
        var msi = table.Where(e => e.Type == KvmIrqRoutingEntry.TypeMsi).ToArray();
        Assert.Equal(2, msi.Length);
        Assert.Equal((24u, 0xFEE0_1000u, 1u, 0x4041u), (msi[0].Gsi, msi[0].AddressLow, msi[0].AddressHigh, msi[0].Data));
        Assert.Equal((25u, 0xFEE0_0000u, 0u, 0x30u), (msi[1].Gsi, msi[1].AddressLow, msi[1].AddressHigh, msi[1].Data));
        Assert.Equal(table.Length, irqchip.Count + msi.Length);
    }

    private sealed class FakeKernel : IMsiRouteKernel
    {
        public bool RefuseRouting, RefuseIrqfd;
        public readonly List<KvmIrqRoutingEntry[]> Tables = [];
        public readonly Dictionary<uint, EventNotifier> Irqfds = [];
        public readonly List<uint> Detached = [];

        public bool SetRouting(ReadOnlySpan<KvmIrqRoutingEntry> table)
        {
            Tables.Add(table.ToArray());
            return !RefuseRouting;
        }

        public bool AttachIrqfd(uint gsi, EventNotifier notifier)
        {
            if (RefuseIrqfd) return false;
            Irqfds.Add(gsi, notifier);
            return true;
        }

        public void DetachIrqfd(uint gsi, EventNotifier notifier)
        {
            Assert.Same(Irqfds[gsi], notifier);
            Detached.Add(gsi);
        }
    }

    [Fact]
    public void FirstSendRoutesTheMessageAndLaterSendsOnlySignalItsEventfd()
    {
        var kernel = new FakeKernel();
        var notices = new List<string>();
        using var cache = new MsiRouteCache(kernel, 4, notices.Add);

        Assert.True(cache.TrySignal(0xFEE0_0000, 0x41));
        Assert.Single(kernel.Tables);
        Assert.Contains(kernel.Tables[0], e => e is { Type: KvmIrqRoutingEntry.TypeMsi, Gsi: 24, AddressLow: 0xFEE0_0000, Data: 0x41 });
        var first = kernel.Irqfds[24];
        Assert.True(first.Drain(), "the first send must be delivered too");

        Assert.True(cache.TrySignal(0xFEE0_0000, 0x41));
        Assert.Single(kernel.Tables);
        Assert.True(first.Drain());

        Assert.True(cache.TrySignal(0xFEE0_1000, 0x41));
        Assert.Equal(2, kernel.Tables.Count);
        Assert.Equal(2, kernel.Tables[1].Count(e => e.Type == KvmIrqRoutingEntry.TypeMsi));
        Assert.True(kernel.Irqfds[25].Drain());
        Assert.False(first.Drain());
        Assert.Empty(notices);

        cache.Dispose();
        Assert.Equal([24u, 25u], kernel.Detached);
        Assert.False(cache.TrySignal(0xFEE0_0000, 0x41));
    }

    [Fact]
    public void PastItsCapacityTheCacheDeclinesNewMessagesAndSaysSoOnce()
    {
        var kernel = new FakeKernel();
        var notices = new List<string>();
        using var cache = new MsiRouteCache(kernel, 2, notices.Add);
        Assert.True(cache.TrySignal(0xFEE0_0000, 1));
        Assert.True(cache.TrySignal(0xFEE0_0000, 2));
        Assert.False(cache.TrySignal(0xFEE0_0000, 3));
        Assert.False(cache.TrySignal(0xFEE0_0000, 4));
        Assert.True(cache.TrySignal(0xFEE0_0000, 2));
        Assert.Equal(2, cache.Count);
        Assert.Single(notices);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void AKernelRefusalTurnsTheCacheOffWithOneNotice(bool refuseRouting, bool refuseIrqfd)
    {
        var kernel = new FakeKernel { RefuseRouting = refuseRouting, RefuseIrqfd = refuseIrqfd };
        var notices = new List<string>();
        using var cache = new MsiRouteCache(kernel, 8, notices.Add);
        Assert.False(cache.TrySignal(0xFEE0_0000, 1));
        Assert.False(cache.TrySignal(0xFEE0_0000, 2));
        Assert.Single(notices);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void ConcurrentSendersShareOneRoutePerMessage()
    {
        var kernel = new FakeKernel();
        using var cache = new MsiRouteCache(kernel, 16, _ => { });
        Parallel.For(0, 4000, i => Assert.True(cache.TrySignal(0xFEE0_0000, (uint)(i % 8))));
        Assert.Equal(8, cache.Count);
        Assert.Equal(8, kernel.Irqfds.Count);
        Assert.All(kernel.Irqfds.Values, n => Assert.True(n.Drain()));
    }
}
