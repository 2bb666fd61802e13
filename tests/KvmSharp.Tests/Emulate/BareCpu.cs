using Iced.Intel;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Translate;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// A software CPU without a machine around it, for tests of one CPU behaviour: 32-bit protected mode,
/// flat code (selector 0x08) and data (0x10) segments described in a GDT at <see cref="Gdt"/>, paging
/// off unless the test turns it on, the stack at 0x9000.
/// </summary>
public static class BareCpu
{
    public const ulong Gdt = 0x1000, Stack = 0x9000;
    public const ushort CodeSelector = 0x08, DataSelector = 0x10;

    public static CpuCore Create(PhysicalMemory physical, out CpuState cpu, ulong rip, int vcpuCount = 1, TranslatorMode? translator = null)
    {
        cpu = new CpuState();
        var core = new CpuCore(cpu, physical, new EmulatedCpuModel(0, vcpuCount), translator);
        var code = Segment.Flat(CodeSelector, 0xB, code64: false);
        var data = Segment.Flat(DataSelector, 0x3, code64: false);
        physical.Memory.Write(new GuestAddress(Gdt + CodeSelector), code.ToDescriptor());
        physical.Memory.Write(new GuestAddress(Gdt + DataSelector), data.ToDescriptor());
        for (int s = 0; s < 6; s++) cpu.Segments.Set(s, data);
        cpu.Segments.Set(CpuState.Cs, code);
        cpu.Gdt = new DescriptorTable { Base = Gdt, Limit = 0xFF };
        cpu.Cr0 = 0x11;   // PE, ET
        cpu.Gpr[CpuState.Rsp] = Stack;
        cpu.Rip = rip;
        return core;
    }

    public static void Write(GuestMemory memory, ulong address, Assembler assembler)
    {
        var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), address);
        memory.Write(new GuestAddress(address), stream.ToArray());
    }

    public static ulong Read64(GuestMemory memory, ulong address)
    {
        Span<byte> bytes = stackalloc byte[8];
        memory.Read(new GuestAddress(address), bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
