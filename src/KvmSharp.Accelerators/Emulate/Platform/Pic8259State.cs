namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>One 8259A's registers and modes (8259A datasheet: ICW1–4, OCW1–3), and the ELCR in front of it.</summary>
public sealed record Pic8259State
{
    public byte Irr { get; init; }
    public byte Isr { get; init; }
    public byte Imr { get; init; }

    /// <summary>The IR inputs as they are (for edge detection and level inputs).</summary>
    public byte LineLevels { get; init; }

    /// <summary>ELCR: bit set = that input is level-triggered.</summary>
    public byte Elcr { get; init; }
    public byte VectorBase { get; init; }

    /// <summary>The IR with the highest priority (0–7; moved by rotation).</summary>
    public int PriorityBase { get; init; }

    /// <summary>0: operating; 1, 2, 3: expecting ICW2, ICW3, ICW4.</summary>
    public int InitStep { get; init; }
    public bool NeedIcw4 { get; init; }
    public bool Single { get; init; }
    public bool LevelMode { get; init; }
    public bool AutoEoi { get; init; }
    public bool RotateOnAutoEoi { get; init; }
    public bool SpecialFullyNested { get; init; }
    public bool SpecialMask { get; init; }
    public bool ReadIsr { get; init; }
    public bool PollPending { get; init; }
}

/// <summary>The PC's cascaded 8259 pair.</summary>
public sealed record Pic8259PairState
{
    public Pic8259State Master { get; init; } = new();
    public Pic8259State Slave { get; init; } = new();
}
