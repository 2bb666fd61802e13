using System.Text;
using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// Real mode → 32-bit protected mode → long mode, the way a boot loader does it (SDM vol 3 §9.9 and
/// §9.8.5), driven through the accelerator interface: the same code on the software CPU and on KVM,
/// printing one letter per mode on port 0xE9.
/// </summary>
public class ModeSwitchTests
{
    private const byte DebugPort = 0xE9;
    private const uint Start = 0x7C00, Protected32 = 0x8000, Long64 = 0x9000, GdtAddress = 0x6000;
    private const uint Pml4 = 0x10000, Pdpt = 0x11000, Pd = 0x12000;

    private static byte[] Assemble(int bitness, ulong address, Action<Assembler> body)
    {
        var a = new Assembler(bitness);
        body(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    /// <summary>Real mode with every segment at 0, at <see cref="Start"/> (a boot sector's entry).</summary>
    private static void StartInRealModeAt0(IVcpu vcpu)
    {
        vcpu.GetSpecialRegisters(out var sregs);
        sregs.Cs = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 0xB, Present = 1, System = 1 };
        sregs.Ds = sregs.Es = sregs.Ss = new Segment { Selector = 0, Base = 0, Limit = 0xFFFF, Type = 3, Present = 1, System = 1 };
        sregs.Cr0 = 0x10;
        vcpu.SetSpecialRegisters(sregs);
        vcpu.SetRegisters(new Registers { Rip = Start, Rflags = Registers.FlagsReserved, Rsp = 0x7000 });
    }

    private static void WriteGuest(GuestMemory memory)
    {
        // GDT: null, 0x08 flat 32-bit code, 0x10 flat data, 0x18 64-bit code.
        memory.Write(new GuestAddress(GdtAddress), [.. BitConverter.GetBytes(0UL), .. BitConverter.GetBytes(0x00CF9A000000FFFFUL),
            .. BitConverter.GetBytes(0x00CF92000000FFFFUL), .. BitConverter.GetBytes(0x00209A0000000000UL)]);
        memory.Write(new GuestAddress(GdtAddress + 0x20), [0x1F, 0x00, .. BitConverter.GetBytes(GdtAddress)]);
        memory.Write(new GuestAddress(Start), Assemble(16, Start, a =>
        {
            a.mov(al, (byte)'R');
            a.@out(DebugPort, al);
            a.lgdt(__fword_ptr[GdtAddress + 0x20]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.jmp(0x08, Protected32);
        }));
        memory.Write(new GuestAddress(Protected32), Assemble(32, Protected32, a =>
        {
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(al, (byte)'P');
            a.@out(DebugPort, al);
            a.mov(__dword_ptr[Pml4], Pdpt | 3);
            a.mov(__dword_ptr[Pdpt], Pd | 3);
            a.mov(__dword_ptr[Pd], 0x83);          // one 2 MiB page: 0–2 MiB
            a.mov(eax, cr4);
            a.or(eax, 1 << 5);
            a.mov(cr4, eax);
            a.mov(eax, Pml4);
            a.mov(cr3, eax);
            a.mov(ecx, 0xC0000080);
            a.rdmsr();
            a.or(eax, 1 << 8);
            a.wrmsr();
            a.mov(eax, cr0);
            a.or(eax, 1u << 31);
            a.mov(cr0, eax);
            a.jmp(0x18, Long64);
        }));
        memory.Write(new GuestAddress(Long64), Assemble(64, Long64, a =>
        {
            a.mov(al, (byte)'L');
            a.@out(DebugPort, al);
            a.mov(rax, 0x1122334455667788UL);      // a 64-bit register, only possible in 64-bit mode
            a.mov(__qword_ptr[0x5000], rax);
            a.mov(al, (byte)'\n');
            a.@out(DebugPort, al);
            a.hlt();
        }));
    }

    [Theory]
    [InlineData("emulate")]
    [InlineData("kvm")]
    public void RealToProtectedToLongMode(string accelerator)
    {
        if (accelerator == "kvm") KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        WriteGuest(memory);
        using IAccelerator backend = accelerator == "kvm" ? new KvmAccelerator() : new EmulatorAccelerator();
        using var vm = backend.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        using var attachment = vcpu.AttachToCurrentThread();
        StartInRealModeAt0(vcpu);

        var output = new StringBuilder();
        for (int exits = 0; exits < 100 && !output.ToString().EndsWith('\n'); exits++)
        {
            var exit = vcpu.Run();
            if (exit.Reason == VcpuExitReason.IoOut && exit.Address == DebugPort) output.Append((char)exit.Data[0]);
            else if (exit.Reason is VcpuExitReason.Failed or VcpuExitReason.Shutdown) Assert.Fail($"{exit.Reason} {exit.Message} after '{output}'");
        }
        Assert.Equal("RPL\n", output.ToString());
        Assert.Equal(0x1122334455667788UL, memory.Read<ulong>(new GuestAddress(0x5000)));
        vcpu.GetSpecialRegisters(out var final);
        Assert.NotEqual(0UL, final.Efer & SpecialRegisters.EferLongModeActive);
        Assert.Equal(1, final.Cs.Long);
    }

    /// <summary>
    /// LGDT's operand size, not the code size, decides the base's width (SDM "LGDT/LIDT": 16-bit operands load 24 bits):
    /// OVMF's reset vector runs an o32 LGDT in real mode for a GDT near 4 GiB, which a 24-bit base turns into #NP.
    /// </summary>
    [Theory]
    [InlineData("emulate")]
    [InlineData("kvm")]
    public void RealModeLgdtTakesTheOperandSizesBaseWidth(string accelerator)
    {
        if (accelerator == "kvm") KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(0x6100), [0x17, 0x00, 0x78, 0x56, 0x34, 0xFF]);
        memory.Write(new GuestAddress(0x6110), [0x27, 0x00, 0x78, 0x56, 0x34, 0xAB]);
        // o32 lgdt [0x6100]; out 0xE9, al; lgdt [0x6110]; out 0xE9, al
        memory.Write(new GuestAddress(Start), [0x66, 0x0F, 0x01, 0x16, 0x00, 0x61, 0xE6, DebugPort, 0x0F, 0x01, 0x16, 0x10, 0x61, 0xE6, DebugPort]);
        using IAccelerator backend = accelerator == "kvm" ? new KvmAccelerator() : new EmulatorAccelerator();
        using var vm = backend.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        using var attachment = vcpu.AttachToCurrentThread();
        StartInRealModeAt0(vcpu);

        var bases = new List<(ulong Base, ushort Limit)>();
        for (int exits = 0; exits < 20 && bases.Count < 2; exits++)
        {
            var exit = vcpu.Run();
            if (exit.Reason == VcpuExitReason.IoOut && exit.Address == DebugPort)
            {
                vcpu.GetSpecialRegisters(out var now);
                bases.Add((now.Gdt.Base, now.Gdt.Limit));
            }
            else if (exit.Reason is VcpuExitReason.Failed or VcpuExitReason.Shutdown) Assert.Fail($"{exit.Reason} {exit.Message}");
        }
        Assert.Equal([(0xFF345678UL, (ushort)0x17), (0x345678UL, (ushort)0x27)], bases);
    }
}
