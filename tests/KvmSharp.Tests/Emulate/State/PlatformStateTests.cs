using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// Each platform device alone: programmed part way, saved, loaded into a fresh instance, and then driven on
/// side by side with the original: every read and every interrupt must be the same. Hostile states are refused.
/// </summary>
public class PlatformStateTests
{
    // ---- PIT ----------------------------------------------------------------------------------------

    private sealed class PitRig
    {
        public ManualClock Clock { get; } = new();
        public List<bool> Irq0 { get; } = [];
        public Pit8254 Pit { get; }

        public PitRig() => Pit = new Pit8254(Clock, Irq0.Add);

        public void Out(ushort port, byte value) => Pit.WritePort(port, 1, value);
        public byte In(ushort port) => (byte)Pit.ReadPort(port, 1);
    }

    [Fact]
    public void PitCountsLatchesAndInterruptsGoOnAfterARestore()
    {
        var original = new PitRig();
        original.Clock.SetTick(1000);
        original.Out(0x43, 0x34);            // counter 0: LSB/MSB, mode 2, 100 ticks
        original.Out(0x40, 100);
        original.Out(0x40, 0);
        original.Out(0x43, 0xB0);            // counter 2: LSB/MSB, mode 0, gate via port 0x61
        original.Out(0x61, 0x01);
        original.Out(0x42, 0x34);            // only the LSB so far: a write half done
        original.Clock.SetTick(1250);
        original.Pit.Update(original.Clock.Nanoseconds);
        original.Out(0x43, 0x00);            // latch counter 0, read only its LSB so far
        _ = original.In(0x40);

        var restored = new PitRig();
        restored.Clock.Nanoseconds = original.Clock.Nanoseconds;
        restored.Pit.RestoreState(original.Pit.SaveState());
        Assert.Equal(original.Pit.NextDeadline, restored.Pit.NextDeadline);

        foreach (var rig in new[] { original, restored })
        {
            rig.Irq0.Clear();
            rig.Out(0x42, 0x12);             // the MSB completes counter 2's count
        }
        for (long tick = 1260; tick < 1700; tick += 37)
        {
            foreach (var rig in new[] { original, restored })
            {
                rig.Clock.SetTick(tick);
                if (rig.Pit.NextDeadline <= rig.Clock.Nanoseconds) rig.Pit.Update(rig.Clock.Nanoseconds);
            }
            Assert.Equal(original.In(0x40), restored.In(0x40));      // the latched MSB first, then live counts
            Assert.Equal(original.In(0x61), restored.In(0x61));
            original.Out(0x43, 0xE2);                                // read-back: status and count of counter 0
            restored.Out(0x43, 0xE2);
            Assert.Equal(original.In(0x40), restored.In(0x40));
        }
        Assert.Equal(original.Irq0, restored.Irq0);
        Assert.Contains(true, restored.Irq0);
    }

    [Fact]
    public void PitStateWithACountThatWouldDivideByZeroIsRefused()
    {
        var rig = new PitRig();
        rig.Out(0x43, 0x34);
        rig.Out(0x40, 10);
        rig.Out(0x40, 0);
        var state = rig.Pit.SaveState();
        var damaged = state with { Channels = [state.Channels[0] with { ActiveCount = 0 }, .. state.Channels[1..]] };
        Assert.StartsWith("Pit.Channels[0].ActiveCount", Assert.Throws<StateException>(() => new PitRig().Pit.RestoreState(damaged)).Message);
        var bcd = state with { Channels = [state.Channels[0] with { Bcd = true, ActiveCount = 10_001 }, .. state.Channels[1..]] };
        Assert.StartsWith("Pit.Channels[0].ActiveCount", Assert.Throws<StateException>(() => new PitRig().Pit.RestoreState(bcd)).Message);
    }

    // ---- 8259 pair ----------------------------------------------------------------------------------

    private static void InitializePics(Pic8259Pair pics)
    {
        foreach (var (port, value) in new (ushort, byte)[]
                 {
                     (0x20, 0x11), (0x21, 0x30), (0x21, 0x04), (0x21, 0x01), (0xA0, 0x11), (0xA1, 0x38), (0xA1, 0x02), (0xA1, 0x01),
                     (0x21, 0x00), (0xA1, 0x00), (0x4D1, 0x02),
                 })
            pics.WritePort(port, 1, value);
    }

    [Fact]
    public void PicsKeepRequestsServiceAndModesAcrossARestore()
    {
        var original = new Pic8259Pair();
        InitializePics(original);
        original.SetIrq(3, true);
        original.SetIrq(9, true);               // level-triggered by the ELCR
        original.SetIrq(12, true);
        Assert.Equal(0x39, original.Acknowledge());   // IRQ 9 (slave IR1) wins over IRQ 3: the cascade (IR2) outranks IR3
        original.WritePort(0x20, 1, 0xC4);      // OCW2: set priority, IR4 lowest
        original.WritePort(0xA0, 1, 0x0B);      // OCW3: the slave's command port reads ISR

        var restored = new Pic8259Pair();
        restored.RestoreState(original.SaveState());
        foreach (var pics in new[] { original, restored })
        {
            pics.SetIrq(9, false);
            pics.WritePort(0xA0, 1, 0x20);      // non-specific EOI on the slave
        }
        Assert.Equal(original.ReadPort(0xA0, 1), restored.ReadPort(0xA0, 1));
        Assert.Equal(original.ReadPort(0x21, 1), restored.ReadPort(0x21, 1));
        Assert.Equal(original.ReadPort(0x4D1, 1), restored.ReadPort(0x4D1, 1));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(original.InterruptRequested, restored.InterruptRequested);
            Assert.Equal(original.Acknowledge(), restored.Acknowledge());
        }
    }

    // ---- IOAPIC -------------------------------------------------------------------------------------

    [Fact]
    public void IoApicKeepsItsTableLevelsAndRemoteIrrAcrossARestore()
    {
        var originalBus = new RecordingApicBus();
        var original = new IoApic(originalBus);
        void Write(IoApic ioApic, byte register, uint value)
        {
            ioApic.WriteMmio(0, 4, register);
            ioApic.WriteMmio(0x10, 4, value);
        }
        Write(original, 0x00, 0x0300_0000);                // id 3
        Write(original, 0x10 + 2 * 5, 0x0000_8031);        // pin 5: level, vector 0x31
        Write(original, 0x10 + 2 * 7, 0x0000_0032);        // pin 7: edge, vector 0x32
        original.SetPin(5, true);                          // delivered once, Remote IRR set
        original.WriteMmio(0, 4, 0x10 + 2 * 5);            // IOREGSEL left pointing at pin 5's entry

        var restoredBus = new RecordingApicBus();
        var restored = new IoApic(restoredBus);
        restored.RestoreState(original.SaveState());
        originalBus.Messages.Clear();
        Assert.Equal(original.ReadMmio(0x10, 4), restored.ReadMmio(0x10, 4));
        foreach (var ioApic in new[] { original, restored })
        {
            ioApic.SetPin(5, true);                        // still asserted, Remote IRR set: nothing new
            ioApic.EndOfInterrupt(0x31);                   // the EOI clears Remote IRR and the level fires again
            ioApic.SetPin(7, true);
        }
        Assert.Equal(originalBus.Messages, restoredBus.Messages);
        Assert.Equal(2, restoredBus.Messages.Count);
    }

    // ---- local APIC ---------------------------------------------------------------------------------

    private sealed class ApicRig : IDisposable
    {
        public ManualClock Clock { get; } = new();
        public EmulatedPlatform Platform { get; }
        public VcpuPlatform Vcpu { get; }
        private readonly GuestMemory _memory = GuestMemory.Create(2UL << 20);

        public ApicRig()
        {
            Platform = new EmulatedPlatform(Clock);
            Vcpu = new VcpuPlatform(Platform, 0, new CpuState(), _memory);
        }

        public void Write(int register, uint value) => Assert.True(Vcpu.TryWriteMmio(LocalApic.DefaultBase + (ulong)register, 4, value));

        public uint Read(int register)
        {
            Assert.True(Vcpu.TryReadMmio(LocalApic.DefaultBase + (ulong)register, 4, out ulong value));
            return (uint)value;
        }

        public void Dispose() => _memory.Dispose();
    }

    [Fact]
    public void LocalApicKeepsRegistersPendingVectorsAndItsTimerAcrossARestore()
    {
        using var original = new ApicRig();
        original.Write(0xF0, 0x1FF);                       // software-enabled
        original.Write(0x80, 0x20);                        // TPR class 2
        original.Write(0x3E0, 0x3);                        // divide by 16
        original.Write(0x320, 0x2_0044);                   // periodic, vector 0x44
        original.Clock.Nanoseconds = 1_000;
        original.Write(0x380, 1_000);                      // 16 µs periods
        original.Write(0x300, 0x4_4051);                   // self IPI 0x51
        original.Write(0x300, 0x4_4025);                   // self IPI 0x25: below the TPR, held in IRR
        Assert.Equal(CpuEvent.Interrupt, original.Vcpu.Apic.Take(true, false, out byte first));
        Assert.Equal(0x51, first);                         // 0x51 in service now
        original.Clock.Nanoseconds = 9_000;

        using var restored = new ApicRig();
        restored.Clock.Nanoseconds = original.Clock.Nanoseconds;
        restored.Vcpu.Apic.RestoreState(original.Vcpu.Apic.SaveState());
        for (int register = 0x20; register < 0x400; register += 0x10)
            Assert.Equal(original.Read(register), restored.Read(register));
        Assert.Equal(original.Vcpu.Apic.Timer.NextDeadline, restored.Vcpu.Apic.Timer.NextDeadline);

        foreach (var rig in new[] { original, restored })
        {
            rig.Clock.Nanoseconds = 40_000;                // two periods later
            lock (rig.Platform.Lock) rig.Vcpu.Apic.Timer.Update(rig.Clock.Nanoseconds);
            rig.Write(0xB0, 0);                            // EOI for 0x51
        }
        for (int i = 0; i < 3; i++)
        {
            var originalEvent = original.Vcpu.Apic.Take(true, false, out byte originalVector);
            var restoredEvent = restored.Vcpu.Apic.Take(true, false, out byte restoredVector);
            Assert.Equal((originalEvent, originalVector), (restoredEvent, restoredVector));
        }
        Assert.Equal(original.Read(0x390), restored.Read(0x390));
    }
}
