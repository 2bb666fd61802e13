using Iced.Intel;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Machine.Guests;

/// <summary>
/// Small multiboot guests in plain integer code and port I/O, so they run on any accelerator (a
/// software-backed KVM included). They talk to COM1 at 0x3F8 and end through ACPI power-off or the
/// isa-debug-exit port.
/// </summary>
public static class TinyGuests
{
    public const ushort Com1 = 0x3F8;

    /// <summary>Prints <paramref name="message"/> on COM1, then writes <paramref name="exitValue"/> to the debug-exit port <paramref name="debugExitPort"/>.</summary>
    public static byte[] Hello(string message, ushort debugExitPort, byte exitValue) => MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        a.mov(esi, data.AddString(message));
        a.call(puts);
        EmitDebugExit(a, debugExitPort, exitValue);
        EmitPuts(a, puts);
    });

    /// <summary>
    /// Does <paramref name="count"/> port reads from an unassigned port (each one a VM exit), prints
    /// "done\n", and exits through the debug-exit port with value 0 (process status 1).
    /// </summary>
    public static byte[] PortExitLoop(int count, ushort debugExitPort) => MultibootFlatImage.Build((a, data) =>
    {
        var loop = a.CreateLabel();
        var puts = a.CreateLabel();
        a.mov(ecx, count);
        a.mov(dx, 0x510);
        a.Label(ref loop);
        a.@in(al, dx);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(esi, data.AddString("done\n"));
        a.call(puts);
        EmitDebugExit(a, debugExitPort, 0);
        EmitPuts(a, puts);
    });

    /// <summary>Instructions the loop of <see cref="CpuLoop"/> retires per iteration (for instructions-per-second figures).</summary>
    public const int CpuLoopInstructionsPerIteration = 13;   // mov shl xor, mov shr xor, mov shl xor, imul add, dec jnz

    /// <summary>
    /// A CPU-bound guest: <paramref name="iterations"/> rounds of xorshift32 and multiply–add mixing in
    /// registers and memory, then "checksum XXXXXXXX\n" on COM1 and a debug-exit write of 0 (status 1).
    /// The checksum depends on every round, so any accelerator that gets an instruction wrong prints another one.
    /// </summary>
    public static byte[] CpuLoop(int iterations, ushort debugExitPort) => MultibootFlatImage.Build((a, data) =>
    {
        var loop = a.CreateLabel();
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        a.mov(esp, 0x90000);
        a.mov(eax, 0x12345678u);          // xorshift state
        a.xor(edi, edi);                  // accumulator
        a.mov(ecx, iterations);
        a.Label(ref loop);
        a.mov(edx, eax);                  // x ^= x << 13
        a.shl(edx, 13);
        a.xor(eax, edx);
        a.mov(edx, eax);                  // x ^= x >> 17
        a.shr(edx, 17);
        a.xor(eax, edx);
        a.mov(edx, eax);                  // x ^= x << 5
        a.shl(edx, 5);
        a.xor(eax, edx);
        a.imul(edi, edi, 31);             // acc = acc * 31 + x
        a.add(edi, eax);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(esi, data.AddString("checksum "));
        a.call(puts);
        a.mov(eax, edi);
        a.call(putHex);
        a.mov(esi, data.AddString("\n"));
        a.call(puts);
        EmitDebugExit(a, debugExitPort, 0);
        EmitPuts(a, puts);
        EmitPutHex(a, putHex);
    });

    /// <summary>Writes the NUL-terminated string at ESI to COM1; keeps EBX.</summary>
    public static void EmitPuts(Assembler a, Label puts)
    {
        var next = a.CreateLabel();
        var done = a.CreateLabel();
        a.Label(ref puts);
        a.push(ebx);
        a.Label(ref next);
        a.lodsb();
        a.test(al, al);
        a.jz(done);
        a.mov(bl, al);
        EmitSendBl(a);
        a.jmp(next);
        a.Label(ref done);
        a.pop(ebx);
        a.ret();
    }

    /// <summary>Writes EAX as 8 hex digits to COM1 (clobbers EAX, EBX, ECX, EDX).</summary>
    public static void EmitPutHex(Assembler a, Label putHex)
    {
        var digit = a.CreateLabel();
        var emit = a.CreateLabel();
        a.Label(ref putHex);
        a.mov(ecx, 8);
        a.Label(ref digit);
        a.rol(eax, 4);
        a.mov(bl, al);
        a.and(bl, 0xF);
        a.add(bl, (byte)'0');
        a.cmp(bl, (byte)'9');
        a.jbe(emit);
        a.add(bl, 'a' - '0' - 10);
        a.Label(ref emit);
        a.push(eax);
        EmitSendBl(a);
        a.pop(eax);
        a.dec(ecx);
        a.jnz(digit);
        a.ret();
    }

    /// <summary>Sends BL on COM1 once the transmitter holding register is empty (LSR bit 5); clobbers AL, DX.</summary>
    private static void EmitSendBl(Assembler a)
    {
        var wait = a.CreateLabel();
        a.mov(dx, Com1 + 5);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(wait);
        a.mov(dx, Com1);
        a.mov(al, bl);
        a.@out(dx, al);
    }

    /// <summary>Writes <paramref name="value"/> to the isa-debug-exit port (ending the run), and halts should that port be absent.</summary>
    public static void EmitDebugExit(Assembler a, ushort port, byte value)
    {
        a.mov(dx, port);
        a.mov(al, value);
        a.@out(dx, al);
        EmitHaltForever(a);
    }

    public static void EmitHaltForever(Assembler a)
    {
        var halt = a.CreateLabel();
        a.cli();
        a.Label(ref halt);
        a.hlt();
        a.jmp(halt);
    }
}
