using KvmSharp.Devices.Legacy;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices;

public class Serial16550StateTests
{
    private const ulong Rbr = 0, Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    private static Serial16550 Create(RecordingInterruptLine? irq = null, RecordingSerialOutput? output = null) =>
        new(Serial16550.ComPorts[0], irq ?? new(), output ?? new());

    /// <summary>A UART as Linux leaves it, with 20 bytes of input (16 in the FIFO, 4 behind it) and a receive interrupt up.</summary>
    private static Serial16550 Busy(RecordingInterruptLine irq)
    {
        var uart = Create(irq);
        uart.Out(Lcr, 0x83);
        uart.Out(0, 0x01);              // 115200 baud
        uart.Out(Lcr, 0x03);            // 8N1
        uart.Out(Fcr, 0x41);            // FIFO on, trigger 4
        uart.Out(Mcr, 0x0B);            // DTR, RTS, OUT2
        uart.Out(Ier, 0x05);            // RX data, line status
        uart.Out(Scr, 0x5A);
        Assert.Equal(20, uart.EnqueueInput("abcdefghijklmnopqrst"u8));
        Assert.True(irq.High);
        return uart;
    }

    [Fact]
    public void RestoredUartRaisesItsIrqAndHandsOutTheFifoThenTheHostInputInOrder()
    {
        var irq = new RecordingInterruptLine();
        var saved = StateFuzz.RoundTrip(Busy(irq).SaveState());
        Assert.Equal(16, saved.ReceiveFifo.Length);
        Assert.Equal(4, saved.HostInput.Length);

        var restoredIrq = new RecordingInterruptLine();
        var restored = Create(restoredIrq);
        restored.RestoreState(saved);

        Assert.True(restoredIrq.High);
        Assert.Equal(0xC4, restored.In(Iir));   // received data at the trigger level, FIFOs on
        Assert.Equal(0x0B, restored.In(Mcr));
        Assert.Equal(0x5A, restored.In(Scr));
        Assert.Equal(1, restored.Divisor);
        var read = new List<byte>();
        while ((restored.In(Lsr) & 0x01) != 0) read.Add(restored.In(Rbr));
        Assert.Equal("abcdefghijklmnopqrst"u8.ToArray(), read);
        Assert.False(restoredIrq.High);
    }

    [Fact]
    public void APendingThreInterruptIsStillPendingAfterRestore()
    {
        var uart = Create();
        uart.Out(Mcr, 0x08);
        uart.Out(Ier, 0x02);
        var restoredIrq = new RecordingInterruptLine();
        var restored = Create(restoredIrq);
        restored.RestoreState(StateFuzz.RoundTrip(uart.SaveState()));
        Assert.True(restoredIrq.High);
        Assert.Equal(0x02, restored.In(Iir) & 0x0F);   // reading IIR takes it, as on the original
        Assert.Equal(0x01, restored.In(Iir) & 0x0F);
    }

    [Fact]
    public void LoopbackModemStatusAndDeltasSurvive()
    {
        var uart = Create();
        uart.Out(Mcr, 0x10 | 0x03);   // loopback, DTR, RTS: CTS and DSR rise
        var restored = Create();
        restored.RestoreState(StateFuzz.RoundTrip(uart.SaveState()));
        Assert.Equal(uart.In(Msr), restored.In(Msr));
        Assert.Equal(0x30, restored.In(Msr));   // the deltas were read once
    }

    [Fact]
    public void InputWhilePausedWaitsAndIsDeliveredOnResume()
    {
        var irq = new RecordingInterruptLine();
        var uart = Create(irq);
        uart.Out(Mcr, 0x08);
        uart.Out(Ier, 0x01);
        uart.Pause();
        Assert.Equal(3, uart.EnqueueInput("xyz"u8));
        Assert.Empty(irq.Changes);
        Assert.Equal(3, uart.SaveState().HostInput.Length);   // held behind the FIFO, so saved with the state
        uart.Resume();
        Assert.True(irq.High);
        Assert.Equal((byte)'x', uart.In(Rbr));
    }

    public static TheoryData<string, Serial16550State> HostileStates()
    {
        var good = Busy(new RecordingInterruptLine()).SaveState();
        return new()
        {
            { "InterruptEnable", good with { InterruptEnable = 0x10 } },
            { "ModemControl", good with { ModemControl = 0x20 } },
            { "LineErrors", good with { LineErrors = 0x01 } },
            { "TriggerLevel", good with { TriggerLevel = 3 } },
            { "ModemStatus", good with { ModemStatus = 0x00 } },
            { "ReceiveFifo", good with { ReceiveFifo = new byte[17] } },
            { "ReceiveFifo", good with { FifoEnabled = false } },   // 16 bytes in a one-byte holding register
            { "ReceiveFifo", good with { ReceiveFifo = null! } },
            { "HostInput", good with { HostInput = new byte[Serial16550.HostInputBufferSize + 1] } },
        };
    }

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheFieldAndChangeNothing(string field, Serial16550State state)
    {
        var irq = new RecordingInterruptLine();
        var uart = Create(irq);
        string before = StateFuzz.Json(uart.SaveState());
        var e = Assert.Throws<StateException>(() => uart.RestoreState(state));
        Assert.Contains($"serial.{field}", e.Message);
        Assert.Equal(before, StateFuzz.Json(uart.SaveState()));
        Assert.Empty(irq.Changes);
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException()
    {
        var saved = Busy(new RecordingInterruptLine()).SaveState();
        int refused = StateFuzz.Run(() => Create(), saved, seed: 16550);
        Assert.True(refused > 0);
    }
}
