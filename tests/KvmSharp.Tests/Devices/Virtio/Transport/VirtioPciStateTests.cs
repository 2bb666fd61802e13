using KvmSharp.Devices;
using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Entropy;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices.Virtio.Transport;

/// <summary>Saving, restoring and pausing the virtio-pci transport with a real device (virtio-rng) behind it.</summary>
public sealed class VirtioPciStateTests : IDisposable
{
    private readonly GuestMemory _memory = GuestMemory.Create(MockVirtqDriver.LayoutSize);

    public void Dispose() => _memory.Dispose();

    private TransportRig Rig(Func<IVirtioDevice>? device = null) => new(device ?? (() => new VirtioEntropyDevice(_ => { })), _memory);

    private static ushort AddRequest(TransportRig rig) => rig.Drivers[0].AddChain((64, true));

    /// <summary>The state of <paramref name="rig"/>'s PCI function and transport, through JSON.</summary>
    private static (PciConfigSpaceState Config, VirtioPciState Transport) Save(TransportRig rig) =>
        (StateFuzz.RoundTrip(rig.Transport.Config.SaveState()), StateFuzz.RoundTrip(rig.Transport.SaveState()));

    /// <summary>What the machine does on restore: configuration space first (the bus's part), then the transport.</summary>
    private static void Restore(TransportRig rig, (PciConfigSpaceState Config, VirtioPciState Transport) saved)
    {
        rig.Transport.Config.RestoreState(saved.Config);
        rig.Transport.ConfigWritten(0, rig.Transport.Config.Size);
        rig.Transport.RestoreState(saved.Transport);
    }

    [Fact]
    public void ARestoredTransportRunsTheDeviceOnFromWhereItsQueueWasWithoutAReset()
    {
        var driver = default(MockVirtqDriver);
        (PciConfigSpaceState, VirtioPciState) saved;
        using (var original = Rig())
        {
            original.Start();
            driver = original.Drivers[0];
            original.Submit(0, AddRequest(original));
            original.WaitUntil(() => driver.UsedIdx == 1, "the first request");
            // Its message too: a pause between the used idx and the message would hold it as pending, and the
            // restored transport would rightly send it at restore, making two messages below instead of one.
            original.WaitUntil(() => original.QueueMessages(0) == 1, "the first request's MSI-X message");
            original.Transport.Pause();
            saved = Save(original);
        }
        Assert.Equal(1, saved.Item2.Queues[0].NextAvail);
        Assert.Equal(1, saved.Item2.Queues[0].NextUsed);

        var counting = new CountingDevice(new VirtioEntropyDevice(_ => { }));
        using var restored = Rig(() => counting);
        Restore(restored, saved);
        Assert.Equal((ulong)TransportRig.Running, restored.Read(TransportRig.DeviceStatus, 1));
        Assert.Equal((1, 0), (counting.Activations, counting.Resets));

        driver.SetUsedEvent(1);                  // EVENT_IDX: interrupt me when used idx passes 1
        driver.Publish(AddRequest(restored));   // the guest's driver goes on with its own ring
        restored.Kick(0);
        restored.WaitUntil(() => driver.UsedIdx == 2, "the request after the restore");
        Assert.Equal(64u, driver.UsedElement(1).Length);
        restored.WaitUntil(() => restored.QueueMessages(0) == 1, "its MSI-X message");
    }

    [Fact]
    public void ADoorbellWhilePausedTouchesNoGuestMemoryUntilResume()
    {
        using var rig = Rig();
        rig.Start();
        rig.Transport.Pause();
        ushort head = AddRequest(rig);
        rig.Drivers[0].Publish(head);
        var log = new DirtyPageBitmap(_memory.Regions);
        _memory.StartWriteLog(log);
        rig.Kick(0);
        Thread.Sleep(100);   // time for a device that is not paused to have served it
        Assert.Equal(0, log.Count());
        Assert.Equal(0, rig.Drivers[0].UsedIdx);
        Assert.Equal(0, rig.Msi.Total);

        rig.Transport.Resume();
        rig.WaitUntil(() => rig.Drivers[0].UsedIdx == 1, "the request after resume");
        Assert.NotEqual(0, log.Count());
        rig.WaitUntil(() => rig.QueueMessages(0) == 1, "its interrupt");
        _memory.StopWriteLog();
    }

    [Fact]
    public void ATransportRestoredWhilePausedServesNothingUntilResumeThenTakesWhatWasPublishedBeforeTheSave()
    {
        var driver = default(MockVirtqDriver);
        (PciConfigSpaceState, VirtioPciState) saved;
        using (var original = Rig())
        {
            original.Start();
            driver = original.Drivers[0];
            original.Transport.Pause();
            original.Submit(0, AddRequest(original));   // the guest rang just before the pause took effect
            saved = Save(original);
        }
        using var restored = Rig();
        restored.Transport.Pause();
        var log = new DirtyPageBitmap(_memory.Regions);
        _memory.StartWriteLog(log);
        Restore(restored, saved);
        Thread.Sleep(100);
        Assert.Equal(0, log.Count());
        Assert.Equal(0, driver.UsedIdx);

        restored.Transport.Resume();
        restored.WaitUntil(() => driver.UsedIdx == 1, "the request published before the save");
        _memory.StopWriteLog();
    }

    [Fact]
    public void AConfigurationInterruptRaisedWhilePausedIsSavedAndSentAtResume()
    {
        using var rig = Rig();
        rig.Start();
        rig.Transport.Pause();
        rig.Transport.SignalConfigChange();
        Assert.Equal(0, rig.ConfigMessages);
        var saved = Save(rig);
        Assert.Equal(1, saved.Transport.Msix.PendingBits[0] & 1);

        rig.Transport.Resume();
        Assert.Equal(1, rig.ConfigMessages);

        using var restored = new TransportRig(() => new VirtioEntropyDevice(_ => { }), _memory);
        restored.Transport.Pause();
        Restore(restored, saved);
        Assert.Equal(0, restored.ConfigMessages);
        restored.Transport.Resume();
        Assert.Equal(1, restored.ConfigMessages);
        rig.Transport.Pause();   // only one of the two may serve the shared ring
    }

    [Fact]
    public void WithoutMsixAnUnreadIsrKeepsIntxAssertedAcrossTheRestore()
    {
        using var rig = Rig();
        rig.Write(TransportRig.DeviceStatus, 1, TransportRig.Acknowledge);
        rig.Transport.Pause();
        rig.Transport.SignalConfigChange();
        Assert.False(rig.Intx.High);
        var saved = Save(rig);
        Assert.Equal(2, saved.Transport.Isr);
        rig.Transport.Resume();
        Assert.True(rig.Intx.High);

        using var restored = Rig();
        Restore(restored, saved);
        Assert.True(restored.Intx.High);
        Assert.Equal(2ul, restored.Read(VirtioPciLayout.IsrOffset, 1));   // reading the ISR takes it and lowers INTx
        Assert.False(restored.Intx.High);
    }

    [Fact]
    public void AHalfConfiguredQueueKeepsTheDriversRegisters()
    {
        using var rig = Rig();
        rig.Write(TransportRig.QueueSelect, 2, 0);
        rig.Write(TransportRig.QueueSize, 2, 8);
        rig.Write(TransportRig.QueueDesc, 8, 0x1234_0000);
        var saved = Save(rig);
        Assert.False(saved.Transport.Queues[0].Ready);

        using var restored = Rig();
        Restore(restored, saved);
        Assert.Equal(8ul, restored.Read(TransportRig.QueueSize, 2));
        Assert.Equal(0x1234_0000ul, restored.Read(TransportRig.QueueDesc, 8));
        Assert.Equal(0ul, restored.Read(TransportRig.QueueEnable, 2));
    }

    public static TheoryData<string, Func<VirtioPciState, VirtioPciState>> HostileStates() => new()
    {
        { "virtio-pci.DeviceStatus", s => s with { DeviceStatus = (byte)(s.DeviceStatus | 0x10) } },
        { "virtio-pci.DriverFeatures", s => s with { DriverFeatures = s.DriverFeatures | 1UL << 40 } },
        { "virtio-pci.DriverFeatures", s => s with { DriverFeatures = s.DriverFeatures & ~VirtioFeatures.Version1 } },
        { "virtio-pci.Active", s => s with { DeviceStatus = TransportRig.Acknowledge } },
        { "virtio-pci.Active", s => s with { Active = false } },
        { "virtio-pci.ConfigMsixVector", s => s with { ConfigMsixVector = 2 } },
        { "virtio-pci.Isr", s => s with { Isr = 4 } },
        { "virtio-pci.Queues", s => s with { Queues = [s.Queues[0], s.Queues[0]] } },
        { "virtio-pci.Queues", s => s with { Queues = null! } },
        { "virtio-pci.Queues[0]", s => s with { Queues = [null!] } },
        { "virtio-pci.Queues[0].MaxSize", s => s with { Queues = [s.Queues[0] with { MaxSize = 128 }] } },
        { "virtio-pci.Queues[0].Size", s => s with { Queues = [s.Queues[0] with { Size = 3 }] } },
        { "virtio-pci.Queues[0].Size", s => s with { Queues = [s.Queues[0] with { Size = 128 }] } },
        { "virtio-pci.Queues[0].DescriptorTable", s => s with { Queues = [s.Queues[0] with { DescriptorTable = 0x1_0000_0000 }] } },
        { "virtio-pci.Queues[0].DriverRing", s => s with { Queues = [s.Queues[0] with { DriverRing = s.Queues[0].DriverRing + 1 }] } },
        { "virtio-pci.Queues[0].DeviceRing", s => s with { Queues = [s.Queues[0] with { DeviceRing = MockVirtqDriver.LayoutSize - 8 }] } },
        { "virtio-pci.Queues[0].EventIdx", s => s with { Queues = [s.Queues[0] with { EventIdx = false }] } },
        { "virtio-pci.Queues[0].MsixVector", s => s with { Queues = [s.Queues[0] with { MsixVector = 7 }] } },
        { "virtio-pci.Queues[0].NextAvail", s => s with { Queues = [s.Queues[0] with { Ready = false }] } },
        { "virtio-pci.Msix.Table", s => s with { Msix = s.Msix with { Table = new byte[48] } } },
        { "virtio-pci.Msix", s => s with { Msix = null! } },
    };

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheFieldAndChangeNothing(string field, Func<VirtioPciState, VirtioPciState> change)
    {
        VirtioPciState good;
        using (var original = Rig())
        {
            original.Start();
            original.Submit(0, AddRequest(original));
            original.WaitUntil(() => original.Drivers[0].UsedIdx == 1, "a request");
            original.Transport.Pause();
            good = original.Transport.SaveState();
        }
        using var fresh = Rig();
        string before = StateFuzz.Json(fresh.Transport.SaveState());
        var e = Assert.Throws<StateException>(() => fresh.Transport.RestoreState(change(good)));
        Assert.StartsWith(field + ":", e.Message);
        Assert.Equal(before, StateFuzz.Json(fresh.Transport.SaveState()));
        Assert.Equal(0ul, fresh.Read(TransportRig.DeviceStatus, 1));
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException()
    {
        VirtioPciState good;
        using (var original = Rig())
        {
            original.Start();
            original.Submit(0, AddRequest(original));
            original.WaitUntil(() => original.Drivers[0].UsedIdx == 1, "a request");
            original.Transport.Pause();
            good = original.Transport.SaveState();
        }
        var sink = new ThreadSafeMsiSink();
        var line = new NullLine();
        int refused = StateFuzz.Run(() => new VirtioPciDevice(new VirtioEntropyDevice(_ => { }), _memory, sink, line, "fuzz", _ => { }),
            good, seed: 0x1040, cases: 400);
        Assert.True(refused > 0);
    }

    [Fact]
    public void RestoringTheBusMovesTheDoorbellsToWhereTheGuestHadBarZero()
    {
        const ulong GuestPlace = 0xC010_0000, FirmwarePlace = 0xC000_0000;
        PciBusState saved;
        using (var original = Rig())
        {
            var bus = new PciBus(new KvmSharp.Devices.Bus.IoBus("mmio"), new KvmSharp.Devices.Bus.IoBus("pio"), [new(0xC000_0000, 0x2000_0000)], new(0x1000, 0xF000));
            bus.Attach(1, 0, original.Transport);
            PlaceBarZero(bus, GuestPlace);
            saved = StateFuzz.RoundTrip(bus.SaveState());
        }
        using var restored = Rig();
        var router = new RecordingRouter();
        restored.Transport.UseDoorbellRouter(router);
        var fresh = new PciBus(new KvmSharp.Devices.Bus.IoBus("mmio"), new KvmSharp.Devices.Bus.IoBus("pio"), [new(0xC000_0000, 0x2000_0000)], new(0x1000, 0xF000));
        fresh.Attach(1, 0, restored.Transport);
        PlaceBarZero(fresh, FirmwarePlace);
        Assert.Equal([FirmwarePlace + VirtioPciLayout.NotifyOffset], router.Attached);
        fresh.RestoreState(saved);
        Assert.Equal([GuestPlace + VirtioPciLayout.NotifyOffset], router.Attached);
    }

    private static void PlaceBarZero(PciBus bus, ulong at)
    {
        Span<byte> b = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)at);
        bus.WriteConfig(0, 1, 0, PciConfigSpace.BarOffset, b);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, PciConfigSpace.CommandMemorySpace);
        bus.WriteConfig(0, 1, 0, PciConfigSpace.CommandOffset, b);
    }

    /// <summary>Where doorbells are attached now (one queue: one address).</summary>
    private sealed class RecordingRouter : IDoorbellRouter
    {
        public List<ulong> Attached { get; } = [];
        public bool TryAttach(ulong address, int length, KvmSharp.Native.Libc.EventNotifier notifier) { Attached.Add(address); return true; }
        public void Detach(ulong address, int length, KvmSharp.Native.Libc.EventNotifier notifier) => Assert.True(Attached.Remove(address));
    }

    private sealed class NullLine : IInterruptLine
    {
        public void SetLevel(bool high) { }
    }

    /// <summary>A device that counts the transport's calls into it, to see that a restore activates without resetting.</summary>
    private sealed class CountingDevice(IVirtioDevice inner) : IVirtioDevice, IPausable
    {
        public int Activations { get; private set; }
        public int Resets { get; private set; }
        public VirtioDeviceType DeviceType => inner.DeviceType;
        public ulong DeviceFeatures => inner.DeviceFeatures;
        public IReadOnlyList<ushort> QueueSizes => inner.QueueSizes;
        public int ConfigSize => inner.ConfigSize;
        public void ReadConfig(int offset, Span<byte> data) => inner.ReadConfig(offset, data);
        public void WriteConfig(int offset, ReadOnlySpan<byte> data) => inner.WriteConfig(offset, data);
        public void Activate(VirtioActivation activation) { Activations++; inner.Activate(activation); }
        public void Reset() { Resets++; inner.Reset(); }
        public void Pause() => ((IPausable)inner).Pause();
        public void Resume() => ((IPausable)inner).Resume();
        public void Dispose() => inner.Dispose();
    }
}
