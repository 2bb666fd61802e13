using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>
/// The local APIC against the rules of SDM vol 3 ch. 10: priorities, EOI, ICR routing, INIT/SIPI, the
/// timer modes (with a clock the test moves) and the 8259 through LINT0. Registers are reached through
/// the same MMIO and MSR paths a guest uses.
/// </summary>
public sealed class LocalApicTests : IDisposable
{
    private const ulong Base = LocalApic.DefaultBase;
    private const int Tpr = 0x80, Ppr = 0xA0, Eoi = 0xB0, Ldr = 0xD0, Svr = 0xF0, Isr = 0x100, Irr = 0x200, IcrLow = 0x300, IcrHigh = 0x310,
        LvtTimer = 0x320, InitialCount = 0x380, CurrentCount = 0x390, DivideConfiguration = 0x3E0;

    private readonly FakeClock _clock = new();
    private readonly FakeChipset _chipset = new();
    private readonly EmulatedPlatform _platform;
    private readonly GuestMemory _memory = GuestMemory.Create(2UL << 20);
    private readonly VcpuPlatform[] _vcpus;

    public LocalApicTests()
    {
        _platform = new EmulatedPlatform(_clock);
        _platform.AttachChipset(_chipset);
        _vcpus = [.. Enumerable.Range(0, 3).Select(i => new VcpuPlatform(_platform, i, new CpuState(), _memory))];
        foreach (var vcpu in _vcpus) Write(vcpu, Svr, 0x1FF);   // software-enabled, as every OS does first
    }

    public void Dispose() => _memory.Dispose();

    private static void Write(VcpuPlatform vcpu, int register, uint value) => Assert.True(vcpu.TryWriteMmio(Base + (ulong)register, 4, value));

    private static uint Read(VcpuPlatform vcpu, int register)
    {
        Assert.True(vcpu.TryReadMmio(Base + (ulong)register, 4, out ulong value));
        return (uint)value;
    }

    private static bool InRegister(VcpuPlatform vcpu, int bank, int vector) => (Read(vcpu, bank + (vector >> 5) * 0x10) & (1u << (vector & 31))) != 0;

    /// <summary>A fixed interrupt for APIC 0 as the IOAPIC sends it.</summary>
    private void DeliverToBootProcessor(byte vector, bool levelTriggered)
    {
        lock (_platform.Lock) _platform.Bus.Deliver(new InterruptMessage(vector, ApicDeliveryMode.Fixed, 0, false, levelTriggered));
    }

    private static (CpuEvent Event, byte Vector) Take(VcpuPlatform vcpu)
    {
        var taken = vcpu.Apic.Take(interruptible: true, nmiBlocked: false, out byte vector);
        return (taken, vector);
    }

    [Fact]
    public void HighestVectorIsTakenFirstAndAnInServiceClassHoldsLowerOnes()
    {
        DeliverToBootProcessor(0x31, false);
        DeliverToBootProcessor(0x52, false);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x52), Take(_vcpus[0]));
        Assert.True(InRegister(_vcpus[0], Isr, 0x52));
        Assert.Equal(0x50u, Read(_vcpus[0], Ppr));
        Assert.Equal(CpuEvent.None, Take(_vcpus[0]).Event);   // 0x31 is below the in-service class
        Write(_vcpus[0], Eoi, 0);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x31), Take(_vcpus[0]));
    }

    [Fact]
    public void TaskPriorityHoldsItsClassAndBelow()
    {
        Write(_vcpus[0], Tpr, 0x60);
        DeliverToBootProcessor(0x6F, false);
        Assert.Equal(CpuEvent.None, Take(_vcpus[0]).Event);
        Assert.True(InRegister(_vcpus[0], Irr, 0x6F));
        DeliverToBootProcessor(0x71, false);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x71), Take(_vcpus[0]));
        Assert.Equal(0x70u, Read(_vcpus[0], Ppr));
        Write(_vcpus[0], Eoi, 0);
        Assert.Equal(0x60u, Read(_vcpus[0], Ppr));
        Write(_vcpus[0], Tpr, 0);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x6F), Take(_vcpus[0]));
    }

    [Fact]
    public void EoiEndsTheHighestInServiceVectorAndTellsTheChipsetOfLevelTriggeredOnes()
    {
        DeliverToBootProcessor(0x40, true);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x40), Take(_vcpus[0]));
        DeliverToBootProcessor(0x80, false);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x80), Take(_vcpus[0]));   // nested: a higher class interrupts the handler
        Write(_vcpus[0], Eoi, 0);
        Assert.False(InRegister(_vcpus[0], Isr, 0x80));
        Assert.True(InRegister(_vcpus[0], Isr, 0x40));
        Assert.Empty(_chipset.EndOfInterrupts);
        Write(_vcpus[0], Eoi, 0);
        Assert.False(InRegister(_vcpus[0], Isr, 0x40));
        Assert.Equal([0x40], _chipset.EndOfInterrupts);
    }

    [Fact]
    public void IcrReachesPhysicalLogicalAndShorthandDestinations()
    {
        Write(_vcpus[0], IcrHigh, 2u << 24);
        Write(_vcpus[0], IcrLow, 0x50);                       // fixed, physical destination 2
        Assert.Equal([false, false, true], _vcpus.Select(v => InRegister(v, Irr, 0x50)));

        for (int i = 0; i < 3; i++) Write(_vcpus[i], Ldr, (1u << i) << 24);   // flat model (DFR all ones)
        Write(_vcpus[1], IcrHigh, 0x5u << 24);
        Write(_vcpus[1], IcrLow, 0x800 | 0x51);               // logical destination 0b101
        Assert.Equal([true, false, true], _vcpus.Select(v => InRegister(v, Irr, 0x51)));

        Write(_vcpus[0], IcrLow, (3u << 18) | 0x52);          // all excluding self
        Assert.Equal([false, true, true], _vcpus.Select(v => InRegister(v, Irr, 0x52)));

        Write(_vcpus[1], IcrLow, (1u << 18) | 0x53);          // self
        Assert.Equal([false, true, false], _vcpus.Select(v => InRegister(v, Irr, 0x53)));
    }

    [Fact]
    public void ClusterLogicalDestinationsMatchClusterAndMember()
    {
        for (int i = 0; i < 3; i++) Write(_vcpus[i], 0xE0, 0x0FFF_FFFF);   // DFR: cluster model
        Write(_vcpus[0], Ldr, 0x11u << 24);
        Write(_vcpus[1], Ldr, 0x12u << 24);
        Write(_vcpus[2], Ldr, 0x21u << 24);
        Write(_vcpus[0], IcrHigh, 0x13u << 24);
        Write(_vcpus[0], IcrLow, 0x800 | 0x60);
        Assert.Equal([true, true, false], _vcpus.Select(v => InRegister(v, Irr, 0x60)));
    }

    [Fact]
    public void InitThenStartupStartsAnApplicationProcessorOnce()
    {
        var ap = _vcpus[1].Apic;
        Assert.False(_vcpus[0].Apic.WaitingForStartup);
        Assert.True(ap.WaitingForStartup);                    // from power-on
        Write(_vcpus[0], IcrHigh, 1u << 24);
        Write(_vcpus[0], IcrLow, 0x4500);                     // INIT, assert
        Write(_vcpus[0], IcrLow, 0x8500);                     // INIT level de-assert: nothing
        Write(_vcpus[0], IcrLow, 0x4600 | 0x10);              // STARTUP at page 0x10
        Assert.True(ap.TryTakeStartup(out byte vector));
        Assert.Equal(0x10, vector);
        Assert.False(ap.WaitingForStartup);
        Write(_vcpus[0], IcrLow, 0x4600 | 0x20);              // a second SIPI to a running CPU is ignored
        Assert.False(ap.TryTakeStartup(out _));
        Write(_vcpus[0], IcrLow, 0x4500);
        Assert.Equal(CpuEvent.Init, ap.Take(interruptible: false, nmiBlocked: false, out _));
        Assert.True(ap.WaitingForStartup);
    }

    [Fact]
    public void NmiIsTakenWithInterruptsOffUnlessBlocked()
    {
        Write(_vcpus[0], IcrHigh, 1u << 24);
        Write(_vcpus[0], IcrLow, 0x400);                      // NMI to APIC 1
        Assert.True(_vcpus[1].Apic.UrgentPending);
        Assert.Equal(CpuEvent.None, _vcpus[1].Apic.Take(interruptible: false, nmiBlocked: true, out _));
        Assert.Equal(CpuEvent.Nmi, _vcpus[1].Apic.Take(interruptible: false, nmiBlocked: false, out byte vector));
        Assert.Equal(2, vector);
    }

    [Fact]
    public void SoftwareDisabledApicDropsFixedInterrupts()
    {
        Write(_vcpus[1], Svr, 0xFF);
        Write(_vcpus[0], IcrHigh, 1u << 24);
        Write(_vcpus[0], IcrLow, 0x70);
        Assert.False(InRegister(_vcpus[1], Irr, 0x70));
    }

    [Fact]
    public void OneShotTimerCountsDownAndFiresOnce()
    {
        Write(_vcpus[0], DivideConfiguration, 0xB);           // divide by 1
        Write(_vcpus[0], LvtTimer, 0x30);
        Write(_vcpus[0], InitialCount, 1000);
        _clock.Nanoseconds = 250;
        Assert.Equal(750u, Read(_vcpus[0], CurrentCount));
        _clock.Nanoseconds = 999;
        _platform.PollTimers();
        Assert.False(InRegister(_vcpus[0], Irr, 0x30));
        _clock.Nanoseconds = 1000;
        _platform.PollTimers();
        Assert.True(InRegister(_vcpus[0], Irr, 0x30));
        Assert.Equal(0u, Read(_vcpus[0], CurrentCount));
        Assert.Equal(long.MaxValue, _platform.NextDeadline);
    }

    [Fact]
    public void PeriodicTimerReloadsWithTheDivider()
    {
        Write(_vcpus[0], DivideConfiguration, 0x0);           // divide by 2: 500 counts are 1000 ns
        Write(_vcpus[0], LvtTimer, 0x2_0031);
        Write(_vcpus[0], InitialCount, 500);
        _clock.Nanoseconds = 1000;
        _platform.PollTimers();
        Assert.Equal((CpuEvent.Interrupt, (byte)0x31), Take(_vcpus[0]));
        Assert.Equal(2000, _platform.NextDeadline);
        _clock.Nanoseconds = 1500;
        Assert.Equal(250u, Read(_vcpus[0], CurrentCount));
        Write(_vcpus[0], LvtTimer, 0x3_0031);                 // masked: it goes on counting but raises nothing
        Write(_vcpus[0], Eoi, 0);
        _clock.Nanoseconds = 2000;
        _platform.PollTimers();
        Assert.False(InRegister(_vcpus[0], Irr, 0x31));
        Assert.Equal(3000, _platform.NextDeadline);
    }

    [Fact]
    public void TscDeadlineFiresAtTheTscValueAndClearsTheMsr()
    {
        Write(_vcpus[0], LvtTimer, 0x4_0032);
        Write(_vcpus[0], InitialCount, 1);                    // ignored in TSC-deadline mode
        Assert.Equal(long.MaxValue, _platform.NextDeadline);
        Assert.True(_vcpus[0].TryWriteMsr(VcpuPlatform.MsrTscDeadline, 5000));
        Assert.True(_vcpus[0].TryReadMsr(VcpuPlatform.MsrTscDeadline, out ulong armed));
        Assert.Equal(5000UL, armed);
        _clock.Nanoseconds = 4999;
        _platform.PollTimers();
        Assert.False(InRegister(_vcpus[0], Irr, 0x32));
        _clock.Nanoseconds = 5000;
        _platform.PollTimers();
        Assert.True(InRegister(_vcpus[0], Irr, 0x32));
        Assert.True(_vcpus[0].TryReadMsr(VcpuPlatform.MsrTscDeadline, out ulong after));
        Assert.Equal(0UL, after);
    }

    [Fact]
    public void The8259ReachesTheBootstrapProcessorThroughLint0()
    {
        _chipset.Requested = 0x20;
        Assert.True(_vcpus[0].Apic.AcceptsExternalInterrupts);   // LINT0 in ExtINT mode after reset (as KVM sets it)
        Assert.False(_vcpus[1].Apic.AcceptsExternalInterrupts);
        Assert.Equal((CpuEvent.Interrupt, (byte)0x20), Take(_vcpus[0]));
        Assert.Equal(CpuEvent.None, Take(_vcpus[1]).Event);
    }

    private sealed class FakeClock : IGuestClock
    {
        public long Nanoseconds { get; set; }
    }

    private sealed class FakeChipset : IChipset
    {
        public int? Requested { get; set; }
        public List<int> EndOfInterrupts { get; } = [];
        public bool InterruptRequested => Requested is not null;
        public IReadOnlyList<ITimedDevice> TimedDevices => [];

        public byte Acknowledge()
        {
            byte vector = (byte)Requested!.Value;
            Requested = null;
            return vector;
        }

        public void EndOfInterrupt(byte vector) => EndOfInterrupts.Add(vector);
        public void SetInterruptLine(uint gsi, bool high) { }
        public bool TryReadPort(ushort port, int size, out uint value) { value = 0; return false; }
        public bool TryWritePort(ushort port, int size, uint value) => false;
        public bool TryReadMmio(ulong address, int size, out ulong value) { value = 0; return false; }
        public bool TryWriteMmio(ulong address, int size, ulong value) => false;
    }
}
