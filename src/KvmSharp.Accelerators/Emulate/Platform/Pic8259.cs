using System.Numerics;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// One 8259A programmable interrupt controller: the initialization words, the operation command words,
/// priority resolution with rotation, special mask and special fully nested modes, edge and level
/// inputs (ELCR or ICW1's LTIM) and auto-EOI. <see cref="Pic8259Pair"/> cascades two of them.
/// </summary>
public sealed class Pic8259
{
    private const int CascadeInput = 2;

    private readonly bool _isMaster;
    private readonly byte _elcrMask;

    private byte _irr, _isr, _imr;
    private byte _lineLevels;       // the IR inputs as they are now
    private byte _elcr;             // edge/level control (PIIX/ICH ELCR), bit set = level
    private byte _vectorBase;
    private int _priorityBase;      // the IR with the highest priority (0 until rotated)
    private int _initStep;          // 0: operating; 1, 2, 3: expecting ICW2, ICW3, ICW4
    private bool _needIcw4, _single, _levelMode;
    private bool _autoEoi, _rotateOnAutoEoi, _specialFullyNested, _specialMask;
    private bool _readIsr, _pollPending;

    /// <param name="isMaster">Whether IR2 is the cascade input (for special fully nested mode).</param>
    /// <param name="vectorBase">The vector base before the guest's ICW2: what a PC BIOS leaves (0x08, 0x70).</param>
    /// <param name="elcrMask">The ELCR bits that exist: the ISA IRQs that may be level-triggered.</param>
    public Pic8259(bool isMaster, byte vectorBase, byte elcrMask)
    {
        _isMaster = isMaster;
        _vectorBase = vectorBase;
        _elcrMask = elcrMask;
        // The 8259A's state before ICW1 is undefined; start with every input masked, so nothing is
        // delivered until the guest initializes the controller, as it does before it enables them.
        _imr = 0xFF;
    }

    public byte VectorBase => _vectorBase;

    private byte LevelTriggered => (byte)(_levelMode ? 0xFF : _elcr);

    /// <summary>Drives input <paramref name="irq"/> (0–7).</summary>
    public void SetInput(int irq, bool high)
    {
        byte bit = (byte)(1 << (irq & 7));
        if ((LevelTriggered & bit) != 0)
            _irr = high ? (byte)(_irr | bit) : (byte)(_irr & ~bit);
        else if (high && (_lineLevels & bit) == 0)
            _irr |= bit;   // 8259A datasheet, "Edge and Level Triggered Modes": latched on the rising edge
        _lineLevels = high ? (byte)(_lineLevels | bit) : (byte)(_lineLevels & ~bit);
    }

    /// <summary>Sets IRR bit 2 for the slave's INT output (the pair calls this while the slave requests).</summary>
    internal void RaiseCascade() => _irr |= 1 << CascadeInput;

    /// <summary>The IR the controller would present on INTA, or -1: the highest-priority unmasked request above every level in service.</summary>
    public int HighestRequest()
    {
        int pending = _irr & ~_imr;
        if (pending == 0)
            return -1;
        int inService = _isr;
        // Special mask mode: a masked level in service does not hold back the others (datasheet, OCW3 ESMM/SMM).
        if (_specialMask)
            inService &= ~_imr;
        // Special fully nested mode: the cascade in service does not hold back a higher slave request (ICW4 SFNM).
        if (_specialFullyNested && _isMaster)
            inService &= ~(1 << CascadeInput);
        int request = HighestPriority(pending);
        return inService == 0 || Priority(request) < Priority(HighestPriority(inService)) ? request : -1;
    }

    /// <summary>The interrupt-acknowledge pulses for <paramref name="irq"/>: it goes in service (unless auto-EOI).</summary>
    public void Acknowledge(int irq)
    {
        byte bit = (byte)(1 << irq);
        // A level input stays requested while the line is high; an edge request is consumed.
        if ((LevelTriggered & bit) == 0)
            _irr &= (byte)~bit;
        if (_autoEoi)
        {
            if (_rotateOnAutoEoi)
                _priorityBase = (irq + 1) & 7;
        }
        else
        {
            _isr |= bit;
        }
    }

    public byte ReadCommand() => _pollPending ? Poll() : _readIsr ? _isr : _irr;

    public byte ReadData() => _pollPending ? Poll() : _imr;

    public void WriteCommand(byte value)
    {
        if ((value & 0x10) != 0)
            InitializationWord1(value);
        else if ((value & 0x08) != 0)
            OperationWord3(value);
        else
            OperationWord2(value);
    }

    public void WriteData(byte value)
    {
        switch (_initStep)
        {
            case 1:   // ICW2: on x86 bits 7:3 are the vector base, bits 2:0 the IR number
                _vectorBase = (byte)(value & 0xF8);
                _initStep = !_single ? 2 : _needIcw4 ? 3 : 0;
                break;
            case 2:   // ICW3: the cascade wiring, fixed on a PC (slave on IR2)
                _initStep = _needIcw4 ? 3 : 0;
                break;
            case 3:   // ICW4: bit 1 AEOI, bit 4 SFNM; bit 0 (8086 mode) and the buffer bits change nothing here
                _autoEoi = (value & 0x02) != 0;
                _specialFullyNested = (value & 0x10) != 0;
                _initStep = 0;
                break;
            default:  // OCW1
                _imr = value;
                break;
        }
    }

    public byte Elcr => _elcr;

    public void WriteElcr(byte value)
    {
        _elcr = (byte)(value & _elcrMask);
        // A level input's request is its line, from now on.
        byte level = LevelTriggered;
        _irr = (byte)((_irr & ~level) | (_lineLevels & level));
    }

    public Pic8259State SaveState() => new()
    {
        Irr = _irr, Isr = _isr, Imr = _imr, LineLevels = _lineLevels, Elcr = _elcr, VectorBase = _vectorBase,
        PriorityBase = _priorityBase, InitStep = _initStep, NeedIcw4 = _needIcw4, Single = _single, LevelMode = _levelMode,
        AutoEoi = _autoEoi, RotateOnAutoEoi = _rotateOnAutoEoi, SpecialFullyNested = _specialFullyNested,
        SpecialMask = _specialMask, ReadIsr = _readIsr, PollPending = _pollPending,
    };

    /// <summary>Checks a saved controller before the pair loads either of them.</summary>
    public void CheckState(Pic8259State? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        StateCheck.That((state.Elcr & ~_elcrMask) == 0, $"{field}.Elcr", $"0x{state.Elcr:x} marks edge-only inputs level-triggered");
        StateCheck.That((state.VectorBase & 7) == 0, $"{field}.VectorBase", "is not a multiple of 8");
        StateCheck.InRange(state.PriorityBase, 0, 7, $"{field}.PriorityBase");
        StateCheck.InRange(state.InitStep, 0, 3, $"{field}.InitStep");
    }

    public void LoadState(Pic8259State state)
    {
        (_irr, _isr, _imr, _lineLevels, _elcr, _vectorBase) = (state.Irr, state.Isr, state.Imr, state.LineLevels, state.Elcr, state.VectorBase);
        (_priorityBase, _initStep, _needIcw4, _single, _levelMode) = (state.PriorityBase, state.InitStep, state.NeedIcw4, state.Single, state.LevelMode);
        (_autoEoi, _rotateOnAutoEoi, _specialFullyNested) = (state.AutoEoi, state.RotateOnAutoEoi, state.SpecialFullyNested);
        (_specialMask, _readIsr, _pollPending) = (state.SpecialMask, state.ReadIsr, state.PollPending);
    }

    private void InitializationWord1(byte value)
    {
        // 8259A datasheet, "Initialization Command Words": ICW1 clears the mask and the in-service levels,
        // resets the edge sense (an input must rise again to request), gives IR7 the lowest priority,
        // leaves special mask mode and selects IRR for reading; without IC4, the ICW4 functions are zero.
        _needIcw4 = (value & 0x01) != 0;
        _single = (value & 0x02) != 0;
        _levelMode = (value & 0x08) != 0;
        _irr &= (byte)(LevelTriggered & _lineLevels);
        _isr = 0;
        _imr = 0;
        _priorityBase = 0;
        _specialMask = false;
        _readIsr = false;
        _pollPending = false;
        _rotateOnAutoEoi = false;
        if (!_needIcw4)
        {
            _autoEoi = false;
            _specialFullyNested = false;
        }
        _initStep = 1;
    }

    private void OperationWord2(byte value)
    {
        int level = value & 7;
        switch (value >> 5)
        {
            case 0b000: _rotateOnAutoEoi = false; break;
            case 0b100: _rotateOnAutoEoi = true; break;
            case 0b001: NonSpecificEoi(rotate: false); break;
            case 0b101: NonSpecificEoi(rotate: true); break;
            case 0b011: _isr &= (byte)~(1 << level); break;
            case 0b111:
                _isr &= (byte)~(1 << level);
                _priorityBase = (level + 1) & 7;
                break;
            case 0b110: _priorityBase = (level + 1) & 7; break;   // set priority: IR `level` becomes the lowest
            default: break;                                     // 010: no operation
        }
    }

    private void NonSpecificEoi(bool rotate)
    {
        if (_isr == 0)
            return;
        int irq = HighestPriority(_isr);
        _isr &= (byte)~(1 << irq);
        if (rotate)
            _priorityBase = (irq + 1) & 7;
    }

    private void OperationWord3(byte value)
    {
        if ((value & 0x04) != 0)
            _pollPending = true;
        if ((value & 0x02) != 0)
            _readIsr = (value & 0x01) != 0;
        if ((value & 0x40) != 0)
            _specialMask = (value & 0x20) != 0;
    }

    /// <summary>
    /// The read after a poll command is an interrupt acknowledge (8259A datasheet, "The Poll Command"):
    /// bit 7 says whether an interrupt was pending, bits 2:0 which.
    /// </summary>
    private byte Poll()
    {
        _pollPending = false;
        int irq = HighestRequest();
        if (irq < 0)
            return 0;
        Acknowledge(irq);
        return (byte)(0x80 | irq);
    }

    private int Priority(int irq) => (irq - _priorityBase) & 7;

    /// <summary>The IR in <paramref name="bits"/> (non-zero) with the highest priority under the current rotation.</summary>
    private int HighestPriority(int bits)
    {
        // Rotate so that the highest-priority IR is bit 0, then take the lowest set bit.
        int rotated = ((bits >> _priorityBase) | (bits << (8 - _priorityBase))) & 0xFF;
        return (BitOperations.TrailingZeroCount(rotated) + _priorityBase) & 7;
    }
}
