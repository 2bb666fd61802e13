using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// The mode values CpuState keeps in fields (code size, CPL, stack size, linear mask) follow every write of
/// their inputs, and a mode change made by the guest (CR4/CR3/EFER/CR0 and a far jump) is seen by the next
/// fetch even where the same virtual address already has a block decoded, linked and in the jump cache for
/// the old mode.
/// </summary>
public class ModeCacheTests
{
    private const ulong Shared = 0x8000, Switch = 0x9000, Pml4 = 0x20000, Pdpt = 0x21000, Pd = 0x22000;
    private const ushort Code64Selector = 0x18;

    [Fact]
    public void ModeValuesFollowCr0EferAndSegmentWrites()
    {
        var cpu = new CpuState();
        Assert.Equal((2, 0, 2, false), (cpu.CodeSize, cpu.Cpl, cpu.StackSize, cpu.ProtectedMode));   // reset: real mode
        Assert.Equal(0xFFFF_FFFFUL, cpu.LinearMask);

        var code32 = Segment.Flat(0x08, 0xB, code64: false) with { Dpl = 3 };
        cpu.Segments.Set(CpuState.Cs, code32);
        Assert.Equal(2, cpu.CodeSize);            // CS.D counts only in protected mode
        cpu.Cr0 = 0x11;
        Assert.Equal((4, 3, true), (cpu.CodeSize, cpu.Cpl, cpu.ProtectedMode));
        Assert.Equal(2, cpu.StackSize);           // SS is still the real-mode one (B clear)
        cpu.Segments.Set(CpuState.Ss, Segment.Flat(0x10, 0x3, code64: false));
        Assert.Equal(4, cpu.StackSize);

        cpu.Efer = SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferLongModeActive;
        Assert.Equal((true, false, ulong.MaxValue), (cpu.LongModeActive, cpu.Is64BitCode, cpu.LinearMask));   // compatibility mode
        cpu.Segments.Set(CpuState.Cs, Segment.Flat(0x18, 0xB, code64: true));
        Assert.Equal((true, 8, 8, 0), (cpu.Is64BitCode, cpu.CodeSize, cpu.StackSize, cpu.Cpl));
        int mode64 = cpu.ExecutionMode;

        cpu.Cr0 = 0x8000_0011;
        Assert.True(cpu.Paging);
        Assert.NotEqual(mode64, cpu.ExecutionMode);
        cpu.Cr0 &= ~0x8000_0000UL;                // a compound assignment goes through the setter too
        Assert.False(cpu.Paging);
        Assert.Equal(mode64, cpu.ExecutionMode);
    }

    [Fact]
    public void FarJumpToA16BitCodeSegmentIsSeenByTheNextFetchOfCachedCode()
    {
        // No control register changes, so no TLB flush: only the mode key keeps the 32-bit block of the
        // same address out of the jump cache.
        const ushort code16Selector = 0x20;
        using var memory = GuestMemory.Create(2 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Shared);
        var code16 = Segment.Flat(code16Selector, 0xB, code64: false) with { DefaultSize = 0, Limit = 0xFFFF, Granularity = 0 };
        memory.Write(new GuestAddress(BareCpu.Gdt + code16Selector), code16.ToDescriptor());
        memory.Write(new GuestAddress(Shared), new byte[] { 0x40, 0xF4 });   // inc eax (inc ax in 16-bit code); hlt
        var jump = new Assembler(32);
        jump.jmp(code16Selector, (uint)Shared);
        BareCpu.Write(memory, Switch, jump);

        cpu.Gpr[CpuState.Rax] = 0xFFFF;
        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(0x1_0000UL, cpu.Gpr[CpuState.Rax]);

        cpu.Gpr[CpuState.Rax] = 0xFFFF;
        cpu.Rip = Switch;
        core.Wake();
        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(2, cpu.CodeSize);
        Assert.Equal(0UL, cpu.Gpr[CpuState.Rax]);   // INC AX wrapped; the cached 32-bit block would give 0x10000
    }

    [Fact]
    public void GuestSwitchToLongModeIsSeenByTheNextFetchOfCachedCode()
    {
        using var memory = GuestMemory.Create(4 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Shared);
        memory.Write(new GuestAddress(BareCpu.Gdt + Code64Selector), Segment.Flat(Code64Selector, 0xB, code64: true).ToDescriptor());
        // 48 FF C3: "dec eax; inc ebx" in 32-bit code, "inc rbx" in 64-bit code. Then HLT.
        memory.Write(new GuestAddress(Shared), new byte[] { 0x48, 0xFF, 0xC3, 0xF4 });
        memory.Write(new GuestAddress(Pml4), Pdpt | 3);
        memory.Write(new GuestAddress(Pdpt), Pd | 3);
        memory.Write(new GuestAddress(Pd), 0x83UL);   // one 2 MiB page, identity
        var toLong = new Assembler(32);
        toLong.mov(eax, cr4);
        toLong.or(eax, 1 << 5);                       // PAE
        toLong.mov(cr4, eax);
        toLong.mov(eax, (uint)Pml4);
        toLong.mov(cr3, eax);
        toLong.mov(ecx, 0xC000_0080);
        toLong.rdmsr();
        toLong.or(eax, 1 << 8);                       // EFER.LME
        toLong.wrmsr();
        toLong.mov(eax, cr0);
        toLong.or(eax, 1u << 31);                     // PG: long mode active, compatibility mode
        toLong.mov(cr0, eax);
        toLong.jmp(Code64Selector, (uint)Shared);     // 64-bit code, at the address just run as 32-bit code
        BareCpu.Write(memory, Switch, toLong);

        cpu.Gpr[CpuState.Rax] = 100;
        cpu.Gpr[CpuState.Rbx] = 5;
        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal((99UL, 6UL), (cpu.Gpr[CpuState.Rax], cpu.Gpr[CpuState.Rbx]));   // the 32-bit decoding ran

        cpu.Rip = Switch;
        core.Wake();
        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.True(cpu.Is64BitCode);
        Assert.Equal(8, cpu.CodeSize);
        Assert.Equal(7UL, cpu.Gpr[CpuState.Rbx]);
        Assert.Equal(cpu.Cr0 & 0xFFFF_FFFF, cpu.Gpr[CpuState.Rax]);   // no "dec eax": the block was decoded again for 64-bit code
    }
}
