using KvmSharp.Devices.Legacy;

namespace KvmSharp.Tests.Devices;

public class Serial16550Tests
{
    // Register offsets (PC16550D Table I).
    private const ulong Rbr = 0, Thr = 0, Ier = 1, Iir = 2, Fcr = 2, Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    private readonly RecordingInterruptLine _irq = new();
    private readonly RecordingSerialOutput _output = new();
    private readonly Serial16550 _uart;

    public Serial16550Tests() => _uart = new Serial16550(Serial16550.ComPorts[0], _irq, _output);

    [Fact]
    public void StandardComPortsAreThePcAssignments()
    {
        Assert.Equal(new ComPort(1, 0x3F8, 4), Serial16550.ComPorts[0]);
        Assert.Equal(new ComPort(2, 0x2F8, 3), Serial16550.ComPorts[1]);
        Assert.Equal(new ComPort(3, 0x3E8, 4), Serial16550.ComPorts[2]);
        Assert.Equal(new ComPort(4, 0x2E8, 3), Serial16550.ComPorts[3]);
    }

    [Fact]
    public void PassesLinux8250AutoconfigProbe()
    {
        // autoconfig(): scratch test through IER, which keeps only its four defined bits.
        _uart.Out(Ier, 0);
        Assert.Equal(0, _uart.In(Ier) & 0x0F);
        _uart.Out(Ier, 0xFF);
        Assert.Equal(0x0F, _uart.In(Ier));
        _uart.Out(Ier, 0);

        // Loopback test: MCR = LOOP | OUT2 | RTS must read back CTS | DCD in MSR's upper nibble.
        _uart.Out(Mcr, 0x10 | 0x0A);
        Assert.Equal(0x90, _uart.In(Msr) & 0xF0);
        _uart.Out(Mcr, 0);

        // FIFO detection: IIR bits 7:6 = 11 identify a 16550A; bit 5 clear (not a 16750).
        _uart.Out(Lcr, 0);
        _uart.Out(Fcr, 0x01);
        Assert.Equal(3, _uart.In(Iir) >> 6);
        _uart.Out(Fcr, 0x01 | 0x20);
        Assert.Equal(0, _uart.In(Iir) & 0x20);

        // serial8250_do_startup THRE test: enabling ETBEI with THR empty must show a THRE interrupt.
        _uart.Out(Ier, 0x02);
        Assert.Equal(0x60, _uart.In(Lsr) & 0x60);
        Assert.Equal(0x02, _uart.In(Iir) & 0x0F);
        _uart.Out(Ier, 0);
    }

    [Fact]
    public void ScratchRegisterHoldsAnyByte()
    {
        _uart.Out(Scr, 0xA5);
        Assert.Equal(0xA5, _uart.In(Scr));
    }

    [Fact]
    public void DivisorLatchIsReachedOnlyWithDlab()
    {
        _uart.Out(Lcr, 0x83);
        _uart.Out(0, 0x01);
        _uart.Out(1, 0x02);
        Assert.Equal(0x01, _uart.In(0));
        Assert.Equal(0x02, _uart.In(1));
        _uart.Out(Lcr, 0x03);
        Assert.Equal(0x0201, _uart.Divisor);
        Assert.Equal(0, _uart.In(Ier));
        Assert.Empty(_output.Bytes);   // divisor writes are not transmitted
    }

    [Fact]
    public void TransmitsEveryThrWriteAndStaysEmpty()
    {
        _uart.Out(Thr, (byte)'h');
        _uart.Out(Thr, (byte)'i');
        Assert.Equal("hi"u8.ToArray(), _output.Bytes);
        Assert.Equal(0x60, _uart.In(Lsr) & 0x60);
    }

    [Fact]
    public void WideAccessesSplitIntoByteAccesses()
    {
        _uart.Write(6, [0x11, 0x22]);   // MSR write ignored, SCR written
        Assert.Equal(0x22, _uart.In(Scr));
    }

    [Fact]
    public void LoopbackRoutesThrToRbrAndNotToTheOutput()
    {
        _uart.Out(Mcr, 0x10);
        _uart.Out(Thr, 0x42);
        Assert.Empty(_output.Bytes);
        Assert.Equal(1, _uart.In(Lsr) & 0x01);
        Assert.Equal(0x42, _uart.In(Rbr));
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
    }

    [Fact]
    public void LoopbackMsrReflectsMcrAndLatchesDeltas()
    {
        _uart.Out(Mcr, 0x10);
        _uart.In(Msr);
        _uart.Out(Mcr, 0x10 | 0x01 | 0x04);   // DTR, OUT1
        byte msr = _uart.In(Msr);
        Assert.Equal(0x20 | 0x40, msr & 0xF0);       // DSR, RI
        Assert.Equal(0x02, msr & 0x0F);              // DDSR
        _uart.Out(Mcr, 0x10 | 0x01);          // OUT1 falls: trailing edge of RI
        Assert.Equal(0x04, _uart.In(Msr) & 0x0F);
        Assert.Equal(0, _uart.In(Msr) & 0x0F);        // read clears the deltas
    }

    [Fact]
    public void ReceiveFifoHoldsSixteenBytesAndKeepsTheRestOnTheHostSide()
    {
        _uart.Out(Fcr, 0x07);
        var input = Enumerable.Range(0, 40).Select(i => (byte)i).ToArray();
        Assert.Equal(40, _uart.EnqueueInput(input));
        var received = new List<byte>();
        while ((_uart.In(Lsr) & 0x01) != 0) received.Add(_uart.In(Rbr));
        Assert.Equal(input, received);
    }

    [Fact]
    public void InputBeyondTheHostBufferIsRefusedNotLost()
    {
        var input = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        int taken = _uart.EnqueueInput(input);
        Assert.Equal(Serial16550.HostInputBufferSize, taken);
        taken += _uart.EnqueueInput(input.AsSpan(taken));   // the holding register took one byte
        Assert.Equal(Serial16550.HostInputBufferSize + 1, taken);
        Assert.Equal(0, _uart.InputSpace);
        Assert.Equal(0, _uart.EnqueueInput(input.AsSpan(taken)));

        var received = new List<byte>();
        while (received.Count < input.Length)
        {
            while ((_uart.In(Lsr) & 0x01) != 0) received.Add(_uart.In(Rbr));
            taken += _uart.EnqueueInput(input.AsSpan(taken));
        }
        Assert.Equal(input, received);
    }

    [Fact]
    public void FifoClearAndDisableDropReceivedData()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, 0x10);
        _uart.Out(Thr, 1);
        _uart.Out(Fcr, 0x03);
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
        _uart.Out(Thr, 2);
        _uart.Out(Fcr, 0x00);
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
    }

    [Fact]
    public void LoopbackIntoAFullFifoSetsOverrun()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, 0x10);
        for (int i = 0; i < 17; i++) _uart.Out(Thr, (byte)i);
        Assert.Equal(0x03, _uart.In(Lsr) & 0x03);
        Assert.Equal(0x01, _uart.In(Lsr) & 0x03);   // read clears OE
    }

    [Fact]
    public void IirReportsTheHighestPrioritySource()
    {
        _uart.Out(Fcr, 0xC1);                  // FIFO on, trigger level 14
        _uart.Out(Mcr, 0x10);
        _uart.Out(Ier, 0x0F);
        _uart.Out(Mcr, 0x10 | 0x02);           // RTS → CTS: a modem status change
        for (int i = 0; i < 17; i++) _uart.Out(Thr, (byte)i);   // overrun

        Assert.Equal(0xC6, _uart.In(Iir));     // line status first
        _uart.In(Lsr);
        Assert.Equal(0xC4, _uart.In(Iir));     // 16 bytes ≥ trigger: received data available
        for (int i = 0; i < 10; i++) _uart.In(Rbr);
        Assert.Equal(0xCC, _uart.In(Iir));     // below trigger: character timeout
        for (int i = 0; i < 6; i++) _uart.In(Rbr);
        Assert.Equal(0xC2, _uart.In(Iir));     // THRE, cleared by this read
        Assert.Equal(0xC0, _uart.In(Iir));     // modem status
        _uart.In(Msr);
        Assert.Equal(0xC1, _uart.In(Iir));
    }

    [Fact]
    public void ThreInterruptFollowsIerWritesThrWritesAndIirReads()
    {
        _uart.Out(Mcr, 0x08);                  // OUT2
        Assert.False(_irq.High);
        _uart.Out(Ier, 0x02);
        Assert.True(_irq.High);
        Assert.Equal(0x02, _uart.In(Iir));
        Assert.False(_irq.High);
        _uart.Out(Thr, (byte)'x');             // THR empties again: a new edge
        Assert.True(_irq.High);
        Assert.Equal(2, _irq.RisingEdges);
        _uart.Out(Ier, 0x00);
        Assert.False(_irq.High);
        Assert.Equal(0x01, _uart.In(Iir));
        _uart.Out(Ier, 0x02);                  // re-enabling raises it again
        Assert.True(_irq.High);
    }

    [Fact]
    public void Out2GatesTheInterruptLine()
    {
        _uart.Out(Ier, 0x01);
        _uart.EnqueueInput("a"u8);
        Assert.False(_irq.High);
        _uart.Out(Mcr, 0x08);
        Assert.True(_irq.High);
        _uart.Out(Mcr, 0x00);
        Assert.False(_irq.High);
    }

    [Fact]
    public void ReceiveInterruptRisesWithInputAndFallsWhenDrained()
    {
        _uart.Out(Fcr, 0x01);
        _uart.Out(Mcr, 0x08);
        _uart.Out(Ier, 0x01);
        Assert.False(_irq.High);
        _uart.EnqueueInput("ab"u8);
        Assert.True(_irq.High);
        Assert.Equal((byte)'a', _uart.In(Rbr));
        Assert.True(_irq.High);
        Assert.Equal((byte)'b', _uart.In(Rbr));
        Assert.False(_irq.High);
        _uart.EnqueueInput("c"u8);
        Assert.Equal([true, false, true], _irq.Changes);
    }

    [Fact]
    public void HostInputWaitsWhileInLoopback()
    {
        _uart.Out(Mcr, 0x10);
        _uart.EnqueueInput("z"u8);
        Assert.Equal(0, _uart.In(Lsr) & 0x01);
        _uart.Out(Mcr, 0x00);
        Assert.Equal(0x01, _uart.In(Lsr) & 0x01);
        Assert.Equal((byte)'z', _uart.In(Rbr));
    }

    [Fact]
    public async Task ConcurrentInputAndReadsLoseNothing()
    {
        _uart.Out(Fcr, 0x01);
        var input = Enumerable.Range(0, 20000).Select(i => (byte)(i * 7)).ToArray();
        var pump = Task.Run(() =>
        {
            int sent = 0;
            while (sent < input.Length)
            {
                int n = _uart.EnqueueInput(input.AsSpan(sent, Math.Min(100, input.Length - sent)));
                sent += n;
                if (n == 0) Thread.Yield();
            }
        }, TestContext.Current.CancellationToken);
        var received = new List<byte>(input.Length);
        while (received.Count < input.Length)
        {
            if ((_uart.In(Lsr) & 0x01) != 0) received.Add(_uart.In(Rbr));
            else Thread.Yield();
        }
        await pump;
        Assert.Equal(input, received);
    }
}
