using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// ES, CS, SS, DS, FS, GS with their hidden descriptor caches. Reads are by reference; every write goes
/// through <see cref="Set"/> or <see cref="SetBase"/> so that a CS or SS change updates the mode values
/// <see cref="CpuState"/> keeps in fields (code size, CPL, stack size): the compiler refuses a write that
/// would bypass them.
/// </summary>
public sealed unsafe class SegmentRegisters
{
    // Pinned: translated code adds a segment's base in place (see Translate/BlockCompiler.Memory).
    private readonly Segment[] _items = GC.AllocateArray<Segment>(6, pinned: true);

    /// <summary>Where segment <paramref name="index"/>'s base is kept (pinned; written only through the methods below).</summary>
    internal ulong* BasePointer(int index) => &((Segment*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _items[0]))[index].Base;
    private readonly CpuState _cpu;

    internal SegmentRegisters(CpuState cpu) => _cpu = cpu;

    public int Length => _items.Length;

    public ref readonly Segment this[int index] => ref _items[index];

    public void Set(int index, in Segment value)
    {
        _items[index] = value;
        if (index is CpuState.Cs or CpuState.Ss) _cpu.UpdateMode();
    }

    /// <summary>Only the base (FS/GS base MSRs, real-mode loads with <see cref="SetSelector"/>).</summary>
    public void SetBase(int index, ulong value)
    {
        _items[index].Base = value;
        if (index is CpuState.Cs or CpuState.Ss) _cpu.UpdateMode();
    }

    /// <summary>A real-mode or virtual-8086 load: selector and base = selector × 16, the rest of the cache kept.</summary>
    public void SetSelector(int index, ushort selector, ulong segmentBase)
    {
        _items[index].Selector = selector;
        _items[index].Base = segmentBase;
        if (index is CpuState.Cs or CpuState.Ss) _cpu.UpdateMode();
    }
}
