using Iced.Intel;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// The test host's own x87 FPU as a second reference CPU: runs a straight-line x87 sequence natively with RBX
/// pointing at a data buffer. Unicorn (QEMU 5) models no x87 exception flags, stack faults or round-up C1 and
/// computes FPREM in host doubles (README.md), so those are checked against real hardware instead. The code
/// must not branch, touch memory other than [rbx + …], or change callee-saved registers other than RBX; it
/// ends with FNINIT so the host thread's FPU is left as the ABI expects.
/// </summary>
public sealed unsafe class HostX87 : IDisposable
{
    private const int CodeSize = 4096, PROT_EXEC = 4;

    private readonly nint _code;

    public HostX87()
    {
        _code = LibcImports.Mmap(0, CodeSize, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE | PROT_EXEC,
            LibcConstants.MAP_PRIVATE | LibcConstants.MAP_ANONYMOUS, -1, 0);
        if (_code == -1) throw new InvalidOperationException("mmap of an executable page for the host x87 reference failed");
    }

    /// <summary>
    /// Runs the sequence <paramref name="body"/> emits with RBX = the start of <paramref name="data"/> and the
    /// arithmetic flags of <paramref name="rflags"/> (CF PF AF ZF SF OF; FCMOVcc reads them).
    /// </summary>
    public void Run(Action<Assembler> body, Span<byte> data, ulong rflags)
    {
        var a = new Assembler(64);
        a.push(AssemblerRegisters.rbx);
        a.mov(AssemblerRegisters.rbx, AssemblerRegisters.rdi);
        a.mov(AssemblerRegisters.rax, (long)((rflags & ReferenceState.ArithmeticFlags) | 2));
        a.push(AssemblerRegisters.rax);
        a.popfq();
        body(a);
        a.fninit();
        a.pop(AssemblerRegisters.rbx);
        a.ret();
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), (ulong)_code);
        if (stream.Length > CodeSize) throw new InvalidOperationException("host x87 sequence too long");
        stream.ToArray().CopyTo(new Span<byte>((void*)_code, CodeSize));
        var run = (delegate* unmanaged<byte*, void>)_code;
        fixed (byte* p = data) run(p);
    }

    public void Dispose() => LibcImports.Munmap(_code, CodeSize);
}
