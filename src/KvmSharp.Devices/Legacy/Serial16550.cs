using KvmSharp.Devices.Bus;
using static KvmSharp.Devices.Legacy.UartRegisters;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// A 16550A UART (PC16550D datasheet) at one of the PC's COM port bases: 8 registers, the divisor
/// latch, a 16-byte receive FIFO fed from a 4 KiB host-side buffer, and the four interrupt sources in
/// the datasheet's priority order (Table IV). Transmission is instantaneous: every THR write goes
/// straight to the <see cref="ISerialOutput"/>, so THR and the transmitter are always empty afterwards.
/// As on a PC, MCR.OUT2 gates the interrupt output onto the ISA IRQ line. Bus accesses wider than a
/// byte are split into byte accesses at consecutive offsets, as the ISA bus does for an 8-bit device.
/// </summary>
public sealed partial class Serial16550 : IBusDevice, IConsoleInput, IPausable
{
    /// <summary>How many consecutive ports the UART decodes; register it with this length.</summary>
    public const int RegisterCount = 8;

    /// <summary>The receive FIFO depth of a 16550A (datasheet §1).</summary>
    public const int ReceiveFifoSize = 16;

    /// <summary>How much host input waits behind the FIFO before <see cref="EnqueueInput"/> takes no more.</summary>
    public const int HostInputBufferSize = 4096;

    /// <summary>The standard PC assignments of COM1-COM4.</summary>
    public static IReadOnlyList<ComPort> ComPorts { get; } =
    [
        new(1, 0x3F8, 4),
        new(2, 0x2F8, 3),
        new(3, 0x3E8, 4),
        new(4, 0x2E8, 3),
    ];

    // RCVR FIFO trigger levels selected by FCR bits 7:6 (datasheet Table III).
    private static ReadOnlySpan<byte> TriggerLevels => [1, 4, 8, 14];

    private readonly Lock _lock = new();
    private readonly IInterruptLine _irq;
    private readonly ISerialOutput _output;
    private readonly ByteRing _receiveFifo = new(ReceiveFifoSize);
    private readonly ByteRing _hostInput = new(HostInputBufferSize);

    private byte _ier;
    private byte _lcr;
    private byte _mcr;
    private byte _msr = MsrCts | MsrDsr | MsrDcd;
    private byte _scr;
    private byte _lineErrors;            // LSR bits 1-4, cleared by reading LSR
    private ushort _divisor = 12;        // 9600 baud from the PC's 1.8432 MHz clock
    private bool _fifoEnabled;
    private int _triggerLevel = 1;
    private bool _transmitEmptyPending;  // the THRE interrupt condition (datasheet Table IV, priority 3)
    private byte _lastReceived;
    private bool _irqHigh;
    private bool _paused;               // host input waits behind the FIFO and the IRQ line keeps still

    public Serial16550(ComPort port, IInterruptLine irq, ISerialOutput output)
    {
        Port = port;
        _irq = irq;
        _output = output;
    }

    /// <summary>The port base, IRQ and COM number this UART was built for.</summary>
    public ComPort Port { get; }

    /// <summary>The divisor latch the guest programmed (baud = 115200 / divisor); informational only.</summary>
    public ushort Divisor { get { lock (_lock) return _divisor; } }

    /// <summary>How many bytes <see cref="EnqueueInput"/> would take now.</summary>
    public int InputSpace { get { lock (_lock) return _hostInput.Free; } }

    /// <summary>
    /// Host side (console pump thread): queues received bytes and raises the receive interrupt.
    /// Returns how many bytes were taken; the rest did not fit and should be offered again later
    /// (after the guest has read some), so no input is lost.
    /// </summary>
    public int EnqueueInput(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            int taken = _hostInput.Enqueue(bytes);
            if (_paused) return taken;   // it stays in the host buffer (saved with the state) until Resume
            PullHostInput();
            UpdateInterruptLine();
            return taken;
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong register = offset + (ulong)i;
                data[i] = register < RegisterCount ? ReadRegister((int)register) : (byte)0xFF;
            }
            UpdateInterruptLine();
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong register = offset + (ulong)i;
                if (register < RegisterCount) WriteRegister((int)register, data[i]);
            }
            UpdateInterruptLine();
        }
    }

    private bool DivisorLatchAccess => (_lcr & LcrDivisorLatchAccess) != 0;
    private bool Loopback => (_mcr & McrLoopback) != 0;
    private int ReceiveCapacity => _fifoEnabled ? ReceiveFifoSize : 1;

    private byte ReadRegister(int register) => register switch
    {
        Data => DivisorLatchAccess ? (byte)_divisor : ReadReceiveBuffer(),
        InterruptEnable => DivisorLatchAccess ? (byte)(_divisor >> 8) : _ier,
        InterruptId => ReadInterruptId(),
        LineControl => _lcr,
        ModemControl => _mcr,
        LineStatus => ReadLineStatus(),
        ModemStatus => ReadModemStatus(),
        _ => _scr,
    };

    private void WriteRegister(int register, byte value)
    {
        switch (register)
        {
            case Data when DivisorLatchAccess: _divisor = (ushort)((_divisor & 0xFF00) | value); break;
            case Data: Transmit(value); break;
            case InterruptEnable when DivisorLatchAccess: _divisor = (ushort)((_divisor & 0x00FF) | (value << 8)); break;
            case InterruptEnable: WriteInterruptEnable(value); break;
            case InterruptId: WriteFifoControl(value); break;
            case LineControl: _lcr = value; break;
            case ModemControl: WriteModemControl(value); break;
            case Scratch: _scr = value; break;
            // LSR and MSR writes are for factory test only (datasheet §8.6, §8.8): ignored.
        }
    }

    private void Transmit(byte value)
    {
        if (Loopback)
            Receive(value);          // §8.7: in loopback the transmitter output feeds the receiver
        else
            _output.Write(new ReadOnlySpan<byte>(in value));
        // THR is empty again at once; writing THR also cleared any THRE interrupt, so this re-raises it.
        _transmitEmptyPending = (_ier & IerTransmitEmpty) != 0;
    }

    private void Receive(byte value)
    {
        // §8.6 LSR bit 1: when the FIFO is full the new character is lost and the overrun flag set.
        if (_receiveFifo.Count >= ReceiveCapacity || !_receiveFifo.TryEnqueue(value))
            _lineErrors |= LsrOverrun;
    }

    /// <summary>Moves host input into the receive FIFO while there is room; in loopback the serial input is disconnected.</summary>
    private void PullHostInput()
    {
        if (Loopback) return;
        while (_receiveFifo.Count < ReceiveCapacity && _hostInput.TryDequeue(out byte value))
            _receiveFifo.TryEnqueue(value);
    }

    private byte ReadReceiveBuffer()
    {
        if (_receiveFifo.TryDequeue(out byte value))
        {
            _lastReceived = value;
            // The next character arrives after this one was taken, as on the wire: the line drops with the
            // empty receiver and rises again with the new byte, so an edge-triggered IOAPIC pin (ISA IRQs
            // are edge) sees one edge per arrival, and a guest that reads one byte per interrupt gets them all.
            if (_receiveFifo.IsEmpty && !_hostInput.IsEmpty) UpdateInterruptLine();
            PullHostInput();
        }
        return _lastReceived;
    }

    private void WriteInterruptEnable(byte value)
    {
        _ier = (byte)(value & IerMask);
        // Setting ETBEI (even when already set) while THR is empty raises THRE at once; Linux's 8250
        // driver tests exactly this at startup (serial8250_do_startup, UART_BUG_THRE).
        _transmitEmptyPending = (_ier & IerTransmitEmpty) != 0;
    }

    private void WriteFifoControl(byte value)
    {
        bool enable = (value & FcrEnable) != 0;
        if (enable != _fifoEnabled) _receiveFifo.Clear();   // §8.3: changing FCR0 clears both FIFOs
        _fifoEnabled = enable;
        // §8.3: the other FCR bits are only programmed while FCR0 is (being) set.
        if (enable)
        {
            if ((value & FcrClearReceive) != 0) _receiveFifo.Clear();
            _triggerLevel = TriggerLevels[value >> 6];
        }
        PullHostInput();
    }

    private void WriteModemControl(byte value)
    {
        bool wasLoopback = Loopback;
        _mcr = (byte)(value & McrMask);
        UpdateModemLines();
        if (wasLoopback && !Loopback) PullHostInput();
    }

    /// <summary>
    /// §8.7: in loopback the MCR outputs drive the modem inputs (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD).
    /// Otherwise the host side has no modem lines, so CTS, DSR and DCD read as asserted (a null modem).
    /// </summary>
    private static byte ModemLines(byte mcr)
    {
        if ((mcr & McrLoopback) == 0) return MsrCts | MsrDsr | MsrDcd;
        byte lines = 0;
        if ((mcr & McrRts) != 0) lines |= MsrCts;
        if ((mcr & McrDtr) != 0) lines |= MsrDsr;
        if ((mcr & McrOut1) != 0) lines |= MsrRi;
        if ((mcr & McrOut2) != 0) lines |= MsrDcd;
        return lines;
    }

    /// <summary>Sets the modem inputs from MCR (<see cref="ModemLines"/>); changes latch the delta bits of §8.8.</summary>
    private void UpdateModemLines()
    {
        byte lines = ModemLines(_mcr);
        byte old = (byte)(_msr & 0xF0);
        byte changed = (byte)(old ^ lines);
        byte deltas = (byte)(_msr & MsrDeltas);
        if ((changed & MsrCts) != 0) deltas |= MsrDeltaCts;
        if ((changed & MsrDsr) != 0) deltas |= MsrDeltaDsr;
        if ((changed & MsrDcd) != 0) deltas |= MsrDeltaDcd;
        if ((old & MsrRi) != 0 && (lines & MsrRi) == 0) deltas |= MsrTrailingEdgeRi;
        _msr = (byte)(lines | deltas);
    }

    private byte ReadLineStatus()
    {
        byte value = (byte)(_lineErrors | LsrTransmitHoldingEmpty | LsrTransmitterEmpty);
        if (!_receiveFifo.IsEmpty) value |= LsrDataReady;
        _lineErrors = 0;   // §8.6: bits 1-4 reset when the CPU reads LSR
        return value;
    }

    private byte ReadModemStatus()
    {
        byte value = _msr;
        _msr &= unchecked((byte)~MsrDeltas);   // §8.8: the deltas reset when the CPU reads MSR
        return value;
    }

    private byte ReadInterruptId()
    {
        byte id = PendingInterruptId();
        // Table IV: reading IIR clears THRE when it is the source reported.
        if (id == IirTransmitEmpty) _transmitEmptyPending = false;
        return _fifoEnabled ? (byte)(id | IirFifosEnabled) : id;
    }

    /// <summary>The highest-priority pending and enabled source (datasheet Table IV).</summary>
    private byte PendingInterruptId()
    {
        if ((_ier & IerLineStatus) != 0 && (_lineErrors & LsrBreakAndErrors) != 0)
            return IirLineStatus;
        if ((_ier & IerReceivedData) != 0 && !_receiveFifo.IsEmpty)
        {
            // Data below the trigger level is reported as a character timeout (0x0C) at once rather
            // than after four character times; a driver handles both the same way.
            return _fifoEnabled && _receiveFifo.Count < _triggerLevel ? IirCharacterTimeout : IirReceivedData;
        }
        if ((_ier & IerTransmitEmpty) != 0 && _transmitEmptyPending)
            return IirTransmitEmpty;
        if ((_ier & IerModemStatus) != 0 && (_msr & MsrDeltas) != 0)
            return IirModemStatus;
        return IirNoInterrupt;
    }

    /// <summary>Drives the IRQ line: high while an enabled source is pending and OUT2 connects the output.</summary>
    private void UpdateInterruptLine()
    {
        bool high = (_mcr & McrOut2) != 0 && PendingInterruptId() != IirNoInterrupt;
        if (high == _irqHigh) return;
        _irqHigh = high;
        _irq.SetLevel(high);
    }
}
