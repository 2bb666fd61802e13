using System.Runtime.Intrinsics.X86;
using Iced.Intel;
using KvmSharp.Native.Libc;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// The host processor as a reference for SSE floating point: one instruction on XMM0/XMM1/RAX run natively
/// under a chosen MXCSR, returning XMM0, RAX, RFLAGS and MXCSR (exception flags included, which Unicorn
/// does not model).
/// The code is assembled into an executable page and called through a function pointer; the caller's MXCSR
/// is saved and restored around it. One call at a time (the page is shared).
/// </summary>
public static unsafe class HostSse
{
    private const int PageSize = 4096;
    private static readonly Lock Gate = new();
    private static nint _page;

    /// <summary>True when the host can run SSE4.1 instructions (x86-64-v2 hosts).</summary>
    public static bool Available => Sse41.IsSupported;

    public static (UInt128 Xmm0, uint Mxcsr, ulong Rax, ulong Rflags) Run(Action<Assembler> instruction, UInt128 first, UInt128 second, uint mxcsr, ulong accumulator = 0)
    {
        lock (Gate)
        {
            if (_page == 0)
            {
                // PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS.
                nint page = LibcImports.Mmap(0, PageSize, 7, 0x22, -1, 0);
                if (page == -1) throw new InvalidOperationException("mmap of an executable page failed");
                _page = page;
            }
            var a = new Assembler(64);
            a.stmxcsr(__dword_ptr[rdi + 40]);
            a.movdqu(xmm0, __xmmword_ptr[rdi]);
            a.movdqu(xmm1, __xmmword_ptr[rdi + 16]);
            a.mov(rax, __qword_ptr[rdi + 48]);
            a.ldmxcsr(__dword_ptr[rdi + 32]);
            instruction(a);
            a.stmxcsr(__dword_ptr[rdi + 36]);
            a.pushfq();
            a.pop(rcx);
            a.mov(__qword_ptr[rdi + 56], rcx);
            a.mov(__qword_ptr[rdi + 48], rax);
            a.movdqu(__xmmword_ptr[rdi], xmm0);
            a.ldmxcsr(__dword_ptr[rdi + 40]);
            a.ret();
            using var stream = new MemoryStream();
            a.Assemble(new StreamCodeWriter(stream), (ulong)_page);
            if (stream.Length > PageSize) throw new InvalidOperationException("host SSE stub too long");
            stream.ToArray().CopyTo(new Span<byte>((void*)_page, PageSize));

            byte* buffer = stackalloc byte[64];
            *(UInt128*)buffer = first;
            *(UInt128*)(buffer + 16) = second;
            *(uint*)(buffer + 32) = mxcsr;
            *(ulong*)(buffer + 48) = accumulator;
            ((delegate* unmanaged<byte*, void>)_page)(buffer);
            return (*(UInt128*)buffer, *(uint*)(buffer + 36), *(ulong*)(buffer + 48), *(ulong*)(buffer + 56));
        }
    }
}
