using Iced.Intel;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Segment register loads (SDM vol 3 §3.4: real mode base = selector × 16; protected mode descriptors
// from the GDT or LDT with the hidden cache filled from the descriptor).
public sealed partial class Executor
{
    private void LoadSegment(Register segment, ushort selector)
    {
        int index = SegmentIndex(segment);
        if (!_cpu.ProtectedMode || (_cpu.SystemFlags & CpuState.FlagVm86) != 0)
        {
            _cpu.Segments.SetSelector(index, selector, (ulong)selector << 4);
            return;
        }
        if ((selector & ~3) == 0)
        {
            // A null selector: allowed in DS/ES/FS/GS (and SS in 64-bit mode at CPL < 3); the segment becomes unusable.
            if (index == CpuState.Ss && !(_cpu.Is64BitCode && _cpu.Cpl < 3)) throw CpuException.GeneralProtection();
            _cpu.Segments.Set(index, new Segment { Selector = selector, Unusable = 1 });
            return;
        }
        var descriptor = ReadDescriptor(selector);
        if (descriptor.Present == 0)
            throw new CpuException(index == CpuState.Ss ? ExceptionVector.StackFault : ExceptionVector.SegmentNotPresent, (uint)(selector & ~3));
        // Loading FS/GS keeps the 64-bit base only through MSRs; a selector load sets the 32-bit base.
        _cpu.Segments.Set(index, descriptor);
    }

    private void LoadCodeSegment(ushort selector)
    {
        if (!_cpu.ProtectedMode || (_cpu.SystemFlags & CpuState.FlagVm86) != 0)
        {
            _cpu.Segments.SetSelector(CpuState.Cs, selector, (ulong)selector << 4);
            return;
        }
        if ((selector & ~3) == 0) throw CpuException.GeneralProtection();
        var descriptor = ReadDescriptor(selector);
        if (descriptor.Present == 0) throw new CpuException(ExceptionVector.SegmentNotPresent, (uint)(selector & ~3));
        if ((descriptor.Type & 8) == 0) throw CpuException.GeneralProtection((uint)(selector & ~3));
        descriptor.Dpl = (byte)(selector & 3);
        _cpu.Segments.Set(CpuState.Cs, descriptor);
    }

    /// <summary>
    /// A read the CPU makes for itself (GDT, LDT, IDT, TSS): a supervisor-mode access whatever the CPL
    /// (SDM vol 3 §4.6.1), so that IRET to ring 3 can still load SS from a supervisor-only GDT page.
    /// </summary>
    private ulong ReadSystem(ulong linear, int size)
    {
        bool previous = _mmu.ImplicitSupervisor;
        _mmu.ImplicitSupervisor = true;
        try
        {
            return _mmu.Read(linear, size);
        }
        finally
        {
            _mmu.ImplicitSupervisor = previous;
        }
    }

    /// <summary>Reads the descriptor a selector names into a hidden-cache <see cref="Segment"/> (SDM vol 3 §3.4.5).</summary>
    private Segment ReadDescriptor(ushort selector)
    {
        bool local = (selector & 4) != 0;
        ulong tableBase = local ? _cpu.Ldt.Base : _cpu.Gdt.Base;
        ulong limit = local ? _cpu.Ldt.Limit : _cpu.Gdt.Limit;
        ulong offset = (ulong)(selector & ~7);
        if (offset + 7 > limit) throw CpuException.GeneralProtection((uint)(selector & ~3));
        ulong raw = ReadSystem(tableBase + offset, 8);
        ulong baseAddress = ((raw >> 16) & 0xFF_FFFF) | ((raw >> 32) & 0xFF00_0000);
        uint segmentLimit = (uint)((raw & 0xFFFF) | ((raw >> 32) & 0xF_0000));
        bool granular = ((raw >> 55) & 1) != 0;
        if (granular) segmentLimit = (segmentLimit << 12) | 0xFFF;
        byte system = (byte)((raw >> 44) & 1);
        if (system == 0 && _cpu.LongModeActive)
            baseAddress |= ReadSystem(tableBase + offset + 8, 4) << 32;   // 16-byte system descriptors in long mode (LDT, TSS)
        return new Segment
        {
            Base = baseAddress,
            Limit = segmentLimit,
            Selector = selector,
            Type = (byte)((raw >> 40) & 0xF),
            System = system,
            Dpl = (byte)((raw >> 45) & 3),
            Present = (byte)((raw >> 47) & 1),
            Available = (byte)((raw >> 52) & 1),
            Long = (byte)((raw >> 53) & 1),
            DefaultSize = (byte)((raw >> 54) & 1),
            Granularity = (byte)(granular ? 1 : 0),
        };
    }
}
