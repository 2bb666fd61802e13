using Iced.Intel;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine;

/// <summary>
/// Console input reaches a guest through the whole interrupt path: host console → UART receive FIFO →
/// IRQ 4 → the IOAPIC → LAPIC (KVM's in-kernel ones, or the software CPU's) → the guest's IDT handler, which echoes what it reads. The guest
/// is 64-bit code in a minimal bzImage, entered through the Linux loader's 64-bit boot protocol path.
/// </summary>
public class SerialInterruptTests
{
    private const byte Vector = 0x24;
    private const ushort Com1 = 0x3F8;
    private const ulong IdtBase = 0x3000, IoApic = 0xFEC00000, Lapic = 0xFEE00000;
    private const ulong Startup64 = 0x100200;

    /// <summary>Echoes every byte received on COM1, interrupt-driven; exits through port 0xF4 after a newline.</summary>
    private static byte[] InterruptEchoKernel()
    {
        var a = new Assembler(64);
        var handler = a.CreateLabel();
        var idle = a.CreateLabel();
        var notNewline = a.CreateLabel();
        var idtr = a.CreateLabel();
        a.mov(rsp, 0x90000);
        // A 64-bit interrupt gate (Intel SDM vol 3 §6.14.1) to the handler in the boot code segment (0x10).
        a.lea(rax, __[handler]);
        a.mov(__word_ptr[IdtBase + Vector * 16], ax);
        a.mov(__word_ptr[IdtBase + Vector * 16 + 2], 0x10);
        a.mov(__word_ptr[IdtBase + Vector * 16 + 4], 0x8E00);
        a.shr(rax, 16);
        a.mov(__word_ptr[IdtBase + Vector * 16 + 6], ax);
        a.shr(rax, 16);
        a.mov(__dword_ptr[IdtBase + Vector * 16 + 8], eax);
        a.lidt(__[idtr]);
        // Local APIC on (spurious vector register); IOAPIC pin 4 → vector, edge, unmasked, to APIC 0.
        a.mov(rbx, Lapic);
        a.mov(__dword_ptr[rbx + 0xF0], 0x1FF);
        a.mov(rbx, IoApic);
        a.mov(__dword_ptr[rbx], 0x10 + 2 * 4);
        a.mov(__dword_ptr[rbx + 0x10], Vector);
        a.mov(__dword_ptr[rbx], 0x10 + 2 * 4 + 1);
        a.mov(__dword_ptr[rbx + 0x10], 0);
        // UART: receive-data interrupt on, and OUT2, which gates the IRQ on a PC.
        a.mov(dx, Com1 + 1);
        a.mov(al, 1);
        a.@out(dx, al);
        a.mov(dx, Com1 + 4);
        a.mov(al, 0x08);
        a.@out(dx, al);
        a.sti();
        a.Label(ref idle);
        a.hlt();
        a.jmp(idle);

        a.Label(ref handler);
        a.mov(dx, Com1);
        a.@in(al, dx);
        a.@out(dx, al);
        a.mov(rbx, Lapic);
        a.mov(__dword_ptr[rbx + 0xB0], 0);   // EOI
        a.cmp(al, (byte)'\n');
        a.jne(notNewline);
        a.mov(dx, 0xF4);
        a.mov(al, 0x2A);
        a.@out(dx, al);
        a.Label(ref notNewline);
        a.iretq();

        a.Label(ref idtr);
        a.dw(0xFFF);
        a.dq(IdtBase);

        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), Startup64);
        byte[] image = BootTestImages.BzImage(kernelBytes: 0x1000);
        int setupBytes = (image[0x1F1] + 1) * 512;
        code.ToArray().CopyTo(image, setupBytes + 0x200);
        return image;
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void TypedInputIsDeliveredByInterruptAndEchoed(string accelerator)
    {
        using var vm = new TestMachine(InterruptEchoKernel(), accelerator: accelerator);
        if (accelerator == "kvm" && KvmRequirement.IsSoftwareBacked)
        {
            // kvm_pvm delivers events only to guests that registered a PVM event entry; an unmodified guest
            // is shut down when an interrupt is injected. What can be checked here: the guest idles with
            // interrupts on until input arrives, and the interrupt raised by that input reaches the vCPU.
            vm.Machine.Start();
            Assert.False(vm.Machine.Exit.Wait(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken), $"the guest stopped before any input: {ResultOf(vm)}");
            vm.Console.Type("x");
            Assert.True(vm.Machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the UART interrupt never reached the vCPU");
            Assert.Equal(MachineExitReason.Reset, vm.Machine.Exit.Result.Reason);
            return;
        }
        vm.Console.Type("ping over IRQ 4\n");
        var exit = vm.RunToEnd();
        Assert.True(exit.Reason == MachineExitReason.DebugExit, $"{exit}; console: '{vm.Console.Output}'");
        Assert.Equal((0x2A << 1) | 1, exit.ExitStatus);
        Assert.Equal("ping over IRQ 4\n", vm.Console.Output);
    }

    private static string ResultOf(TestMachine vm) => vm.Machine.Exit.IsCompleted ? vm.Machine.Exit.Result.ToString() : "";
}
