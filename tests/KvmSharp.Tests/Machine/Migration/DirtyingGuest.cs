using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Memory;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine.Migration;

/// <summary>
/// A guest that keeps rewriting a few MiB and checks, as it goes, that each dword still holds what it wrote there on
/// its previous pass: pass p writes p*(2i+1) to dword i, so a page that a migration lost or sent stale reads back
/// wrong. It counts such misreads at <see cref="Errors"/> and finished passes at <see cref="Passes"/>, and prints
/// a dot on COM1 after each pass.
/// </summary>
internal static class DirtyingGuest
{
    public static readonly GuestAddress Passes = new(0x2000);
    public static readonly GuestAddress Errors = new(0x2008);
    public const uint AreaStart = 0x400000;
    public const uint AreaDwords = (4 << 20) / 4;

    public static readonly byte[] Image = MultibootFlatImage.Build(a =>
    {
        var outer = a.CreateLabel();
        var inner = a.CreateLabel();
        var same = a.CreateLabel();
        a.mov(ebx, 1);
        a.Label(ref outer);
        a.mov(esi, AreaStart);
        a.xor(ecx, ecx);
        a.Label(ref inner);
        a.lea(eax, __dword_ptr[ecx * 2 + 1]);
        a.lea(edi, __dword_ptr[ebx - 1]);
        a.imul(edi, eax);
        a.cmp(__dword_ptr[esi], edi);
        a.je(same);
        a.inc(__dword_ptr[0x2008]);
        a.Label(ref same);
        a.imul(eax, ebx);
        a.mov(__dword_ptr[esi], eax);
        a.add(esi, 4);
        a.inc(ecx);
        a.cmp(ecx, AreaDwords);
        a.jb(inner);
        a.mov(__dword_ptr[0x2000], ebx);
        a.mov(dx, TinyGuests.Com1);
        a.mov(al, (byte)'.');
        a.@out(dx, al);
        a.inc(ebx);
        a.jmp(outer);
    });

    public static MachineController Boot(string accelerator, string directory, CapturingConsole console)
    {
        KvmRequirement.EnsureFor(accelerator);
        string kernel = Path.Combine(directory, "dirtying-guest.bin");
        File.WriteAllBytes(kernel, Image);
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(kernel),
            MemorySize = 64UL << 20,
            Accelerator = accelerator == "kvm" ? AcceleratorChoice.Kvm : AcceleratorChoice.Emulate,
        };
        var machine = new MachineController(config, new MachineControllerOptions { Console = console });
        machine.Start();
        return machine;
    }

    /// <summary>
    /// Checks the area of a paused guest: every dword before some split holds pass p+1's value and every one after
    /// it pass p's, where p = <see cref="Passes"/> (the pass under way is p+1). Returns p.
    /// </summary>
    public static uint CheckArea(GuestMemory memory)
    {
        uint passes = memory.Read<uint>(Passes);
        var area = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(memory.GetReadOnlySpan(new GuestAddress(AreaStart), (int)AreaDwords * 4));
        int i = 0;
        while (i < area.Length && area[i] == unchecked((passes + 1) * (uint)(2 * i + 1))) i++;
        for (int j = i; j < area.Length; j++)
            Assert.True(area[j] == unchecked(passes * (uint)(2 * j + 1)),
                $"dword {j} holds 0x{area[j]:X8}; after {passes} passes with the current one at dword {i} it should hold 0x{passes * (uint)(2 * j + 1):X8}");
        return passes;
    }
}
