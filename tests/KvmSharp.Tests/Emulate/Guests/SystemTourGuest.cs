using Iced.Intel;
using KvmSharp.Machine.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Guests;

/// <summary>
/// A multiboot guest that walks through the system architecture and prints a line at each step:
/// 32-bit protected mode → 4-level paging and long mode → an IDT with 64-bit gates → a page fault that
/// its handler resolves by mapping the page → INT 0x80 → a TSS and IRETQ to ring 3 → SYSCALL back to
/// ring 0 and SYSRETQ → exit through the debug port (value 0x42, status 0x85).
/// </summary>
internal static class SystemTourGuest
{
    public const ushort DebugExitPort = 0xF4;
    public const int ExitStatus = (0x42 << 1) | 1;

    public const string ExpectedOutput =
        "protected mode\n" +
        "long mode\n" +
        "page fault cr2=0000000040000000 error=0000000000000000\n" +
        "read after fault: 00000000cafef00d\n" +
        "int 0x80 from ring 0000000000000000\n" +
        "syscall 0000000000000001 from ring 0000000000000003\n" +
        "back in ring 3, syscall 2 exits\n";

    private const ulong Pml4 = 0x200000, Pdpt = 0x201000, Pd = 0x202000, Pd2 = 0x206000, Gdt = 0x203000, Tss = 0x204000, Idt = 0x205000;
    private const ulong KernelStack = 0x270000, UserStack = 0x290000, Rsp0 = 0x280000;
    private const ushort KernelCode = 0x08, KernelData = 0x10, UserData = 0x20, UserCode = 0x28, TssSelector = 0x30;
    private const ushort Com1 = 0x3F8;

    public static byte[] Build() => MultibootFlatImage.Build((a, data) =>
    {
        var puts32 = a.CreateLabel();
        uint gdtPointer = data.Add(GdtPointerBytes());
        uint longModeEntry = data.Add(LongModeCode(data));
        a.mov(esp, (uint)KernelStack);
        a.mov(esi, data.AddString("protected mode\n"));
        a.call(puts32);
        // GDT: null, kernel code64, kernel data, user code32 (unused), user data, user code64, 64-bit TSS (16 bytes).
        WriteQword(a, Gdt + 0x08, 0x00209A0000000000);
        WriteQword(a, Gdt + 0x10, 0x00CF92000000FFFF);
        WriteQword(a, Gdt + 0x18, 0x00CFFA000000FFFF);
        WriteQword(a, Gdt + 0x20, 0x00CFF2000000FFFF);
        WriteQword(a, Gdt + 0x28, 0x0020FA0000000000);
        WriteQword(a, Gdt + 0x30, 0x67 | ((Tss & 0xFF_FFFF) << 16) | (0x89UL << 40) | (((Tss >> 24) & 0xFF) << 56));
        WriteQword(a, Gdt + 0x38, 0);
        WriteQword(a, Tss + 4, Rsp0);       // TSS.RSP0 (SDM vol 3 §8.7)
        // Page tables: PML4[0] → PDPT; PDPT[0] → PD; PD maps 0–1 GiB with 2 MiB pages (present, writable, user).
        a.mov(__dword_ptr[Pml4], (uint)(Pdpt | 7));
        a.mov(__dword_ptr[Pdpt], (uint)(Pd | 7));
        var fill = a.CreateLabel();
        a.xor(ecx, ecx);
        a.Label(ref fill);
        a.mov(eax, ecx);
        a.shl(eax, 21);
        a.or(eax, 0x87);
        a.mov(__dword_ptr[ecx * 8 + (long)Pd], eax);
        a.inc(ecx);
        a.cmp(ecx, 512);
        a.jb(fill);
        // CR4.PAE, CR3, EFER.LME, CR0.PG, then a far jump into the 64-bit code segment (SDM vol 3 §9.8.5).
        a.mov(eax, cr4);
        a.or(eax, 1 << 5);
        a.mov(cr4, eax);
        a.mov(eax, (uint)Pml4);
        a.mov(cr3, eax);
        a.mov(ecx, 0xC0000080);
        a.rdmsr();
        a.or(eax, 1 << 8);
        a.wrmsr();
        a.lgdt(__fword_ptr[gdtPointer]);
        a.mov(eax, cr0);
        a.or(eax, 1u << 31);
        a.mov(cr0, eax);
        a.jmp(KernelCode, longModeEntry);
        TinyGuests.EmitPuts(a, puts32);
    });

    private static void WriteQword(Assembler a, ulong address, ulong value)
    {
        a.mov(__dword_ptr[address], (uint)value);
        a.mov(__dword_ptr[address + 4], (uint)(value >> 32));
    }

    private static byte[] GdtPointerBytes() => [0x3F, 0x00, .. BitConverter.GetBytes((uint)Gdt)];

    private static byte[] LongModeCode(MultibootFlatImage.DataArea data)
    {
        ulong origin = data.NextAddress;
        var a = new Assembler(64);
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        var pageFault = a.CreateLabel();
        var int80 = a.CreateLabel();
        var syscallEntry = a.CreateLabel();
        var user = a.CreateLabel();
        var afterInt = a.CreateLabel();
        var texts = new Dictionary<string, Label>();
        Label Text(string s)
        {
            if (!texts.TryGetValue(s, out var label)) texts[s] = label = a.CreateLabel();
            return label;
        }

        a.mov(ax, KernelData);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.mov(rsp, KernelStack);
        a.lea(rsi, __[Text("long mode\n")]);
        a.call(puts);

        // GDT entries were written by the image (see BuildGdt at the end); the IDT is written here.
        WriteGate(a, 14, pageFault, dpl: 0);
        WriteGate(a, 0x80, int80, dpl: 3);
        a.mov(rax, Idt);
        a.push(rax);
        a.mov(rax, 0xFFFUL << 48);
        a.push(rax);
        a.lidt(__[rsp + 6]);
        a.add(rsp, 16);

        // A read of an unmapped address: the #PF handler maps it and the read is retried.
        a.mov(rax, 0x40000000UL);
        a.mov(rax, __qword_ptr[rax]);
        a.mov(rbx, rax);
        a.lea(rsi, __[Text("read after fault: ")]);
        a.call(puts);
        a.mov(rax, rbx);
        a.call(putHex);
        a.lea(rsi, __[Text("\n")]);
        a.call(puts);

        a.@int(0x80);
        a.Label(ref afterInt);

        // TSS (RSP0) and the fast system call MSRs, then IRETQ to ring 3.
        a.mov(ax, TssSelector);
        a.ltr(ax);
        WriteMsr(a, 0xC0000081, ((ulong)(UserData - 8) << 48) | ((ulong)KernelCode << 32));   // STAR: SYSRET base 0x18, SYSCALL CS 0x08
        a.lea(rax, __[syscallEntry]);
        a.mov(rdx, rax);
        a.shr(rdx, 32);
        a.mov(ecx, 0xC0000082);
        a.wrmsr();
        WriteMsr(a, 0xC0000084, 0x200);   // SFMASK: clear IF on entry
        a.mov(ecx, 0xC0000080);
        a.rdmsr();
        a.or(eax, 1);                     // EFER.SCE
        a.wrmsr();
        a.push(UserData | 3);
        a.push((int)UserStack);
        a.push(2);
        a.push(UserCode | 3);
        a.lea(rax, __[user]);
        a.push(rax);
        a.iretq();

        // Ring 3: two system calls, passing the CPL read from CS in RDI; the second one ends the guest.
        a.Label(ref user);
        a.mov(edi, cs);
        a.and(edi, 3);
        a.mov(eax, 1);
        a.syscall();
        a.mov(eax, 2);
        a.syscall();
        a.ud2();

        // SYSCALL entry: print the call number and the caller's CPL it passed in RDI.
        a.Label(ref syscallEntry);
        a.mov(rbx, rax);
        a.cmp(rbx, 2);
        var exitCall = a.CreateLabel();
        a.je(exitCall);
        a.push(rcx);
        a.push(r11);
        a.lea(rsi, __[Text("syscall ")]);
        a.call(puts);
        a.mov(rax, rbx);
        a.call(putHex);
        a.lea(rsi, __[Text(" from ring ")]);
        a.call(puts);
        a.mov(rax, rdi);
        a.call(putHex);
        a.lea(rsi, __[Text("\n")]);
        a.call(puts);
        a.pop(r11);
        a.pop(rcx);
        a.sysretq();
        a.Label(ref exitCall);
        a.lea(rsi, __[Text("back in ring 3, syscall 2 exits\n")]);
        a.call(puts);
        a.mov(dx, DebugExitPort);
        a.mov(al, 0x42);
        a.@out(dx, al);
        a.hlt();

        // #PF: print CR2 and the error code, map the 1 GiB that holds CR2 (PDPT[1] → PD2, 2 MiB pages over 0–1 GiB), return.
        a.Label(ref pageFault);
        a.push(rsi);
        a.push(rdx);
        a.push(rcx);
        a.lea(rsi, __[Text("page fault cr2=")]);
        a.call(puts);
        a.mov(rax, cr2);
        a.call(putHex);
        a.lea(rsi, __[Text(" error=")]);
        a.call(puts);
        a.mov(rax, __qword_ptr[rsp + 24]);
        a.call(putHex);
        a.lea(rsi, __[Text("\n")]);
        a.call(puts);
        a.mov(rax, Pdpt + 8);
        a.mov(rcx, Pd2 | 7);
        a.mov(__qword_ptr[rax], rcx);
        a.mov(rax, Pd2);
        a.mov(rcx, 0x87UL | 0x00800000);   // the first 2 MiB of 0x40000000 → physical 0x00800000
        a.mov(__qword_ptr[rax], rcx);
        a.mov(rax, 0x00800000UL);
        a.mov(ecx, 0xCAFEF00D);
        a.mov(__qword_ptr[rax], rcx);
        a.pop(rcx);
        a.pop(rdx);
        a.pop(rsi);
        a.add(rsp, 8);                     // the error code
        a.iretq();

        // INT 0x80: print the ring the interrupted code ran in (the saved CS, SDM §6.14.2 frame).
        a.Label(ref int80);
        a.lea(rsi, __[Text("int 0x80 from ring ")]);
        a.call(puts);
        a.mov(rax, __qword_ptr[rsp + 8]);
        a.and(eax, 3);
        a.call(putHex);
        a.lea(rsi, __[Text("\n")]);
        a.call(puts);
        a.iretq();

        EmitPuts64(a, puts);
        EmitPutHex64(a, putHex);
        foreach (var (text, label) in texts)
        {
            var l = label;
            a.Label(ref l);
            a.db([.. System.Text.Encoding.ASCII.GetBytes(text), 0]);
        }
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), origin);
        return code.ToArray();
    }

    private static void WriteGate(Assembler a, byte vector, Label handler, int dpl)
    {
        ulong entry = Idt + vector * 16UL;
        a.lea(rax, __[handler]);
        a.mov(rdi, entry);
        a.mov(__word_ptr[rdi], ax);
        a.mov(__word_ptr[rdi + 2], KernelCode);
        a.mov(__word_ptr[rdi + 4], (ushort)(0x8E00 | (dpl << 13)));
        a.shr(rax, 16);
        a.mov(__word_ptr[rdi + 6], ax);
        a.shr(rax, 16);
        a.mov(__dword_ptr[rdi + 8], eax);
        a.mov(__dword_ptr[rdi + 12], 0);
    }

    private static void WriteMsr(Assembler a, uint index, ulong value)
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    /// <summary>Writes the NUL-terminated string at RSI to COM1; keeps every register but RSI, RAX and RDX.</summary>
    private static void EmitPuts64(Assembler a, Label puts)
    {
        var next = a.CreateLabel();
        var wait = a.CreateLabel();
        var done = a.CreateLabel();
        a.Label(ref puts);
        a.push(rbx);
        a.Label(ref next);
        a.lodsb();
        a.test(al, al);
        a.jz(done);
        a.mov(bl, al);
        a.mov(dx, Com1 + 5);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(wait);
        a.mov(dx, Com1);
        a.mov(al, bl);
        a.@out(dx, al);
        a.jmp(next);
        a.Label(ref done);
        a.pop(rbx);
        a.ret();
    }

    private static void EmitPutHex64(Assembler a, Label putHex)
    {
        var digit = a.CreateLabel();
        var emit = a.CreateLabel();
        var wait = a.CreateLabel();
        a.Label(ref putHex);
        a.push(rbx);
        a.push(rcx);
        a.push(rdx);
        a.mov(ecx, 16);
        a.Label(ref digit);
        a.rol(rax, 4);
        a.mov(bl, al);
        a.and(bl, 0xF);
        a.add(bl, (byte)'0');
        a.cmp(bl, (byte)'9');
        a.jbe(emit);
        a.add(bl, 'a' - '0' - 10);
        a.Label(ref emit);
        a.push(rax);
        a.mov(dx, Com1 + 5);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(wait);
        a.mov(dx, Com1);
        a.mov(al, bl);
        a.@out(dx, al);
        a.pop(rax);
        a.dec(ecx);
        a.jnz(digit);
        a.pop(rdx);
        a.pop(rcx);
        a.pop(rbx);
        a.ret();
    }
}
