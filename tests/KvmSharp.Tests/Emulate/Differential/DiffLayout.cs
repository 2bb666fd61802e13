namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// The one physical = linear memory layout both CPUs run cases in. Everything below <see cref="CodeBase"/>
/// is set up once per machine; every case gets code at a fresh slot, so neither CPU can run a stale
/// translation of an earlier case.
/// </summary>
public static class DiffLayout
{
    public const ulong MemorySize = 16 << 20;

    /// <summary>GDT: null, 64-bit code (0x08), data (0x10), 32-bit code (0x18), 64-bit TSS (0x20).</summary>
    public const ulong Gdt = 0x1000;
    public const ushort Code64Selector = 0x08, DataSelector = 0x10, Code32Selector = 0x18, TssSelector = 0x20;
    public const ulong Tss = 0x1100;

    /// <summary>IDT: 32 gates to <see cref="Handlers"/> + vector, each one HLT.</summary>
    public const ulong Idt = 0x2000;
    public const ulong Handlers = 0x3000;

    /// <summary>Top of the IST1 stack our CPU delivers faults on in 64-bit mode, away from the case's stack.</summary>
    public const ulong InterruptStackTop = 0x8000;

    /// <summary>Data that memory operands point into (compared after every case).</summary>
    public const ulong Data = 0x10000;
    public const int DataSize = 0x4000;
    public const ulong DataMiddle = Data + DataSize / 2;

    /// <summary>The case's stack (compared after every case); RSP starts at <see cref="StackTop"/>.</summary>
    public const ulong Stack = 0x20000;
    public const int StackSize = 0x1000;
    public const ulong StackTop = Stack + 0x800;

    /// <summary>Code slots: one per case, <see cref="SlotSize"/> bytes each.</summary>
    public const ulong CodeBase = 0x100000;
    public const int SlotSize = 256;
    public const int SlotCount = (int)((MemorySize - CodeBase) / SlotSize);
}
