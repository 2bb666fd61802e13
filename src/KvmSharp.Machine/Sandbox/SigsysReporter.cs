using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Sandbox;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// Says which system call the sandbox refused, in one line on stderr, then ends the process with status 159
/// (128 + SIGSYS, what a shell shows for a process killed by SIGSYS).
///
/// Why a SIGSYS handler and not SECCOMP_RET_KILL_PROCESS: a killed process says nothing, and `kvmsharp run` alone
/// has no parent of ours to read the kernel's audit record (dmesg needs privileges the VMM should not have and
/// rate-limits, and auditd may swallow it). With SECCOMP_RET_TRAP the refused call never runs; the kernel
/// forces a SIGSYS on the calling thread (unblocking it) with si_syscall and si_arch. The handler is ten
/// instructions of machine code written here, not managed code: a signal can arrive in the middle of a GC or
/// with runtime locks held, where only async-signal-safe work may run. It looks the number up in a table of
/// lines made in advance, write(2)s the line to fd 2 and exit_group(2)s — both calls the filter allows. The
/// handler cannot be replaced afterwards: the filter kills the process outright on rt_sigaction(SIGSYS, …)
/// (see <see cref="SeccompPolicy"/>), so refused calls always end the process, as KILL_PROCESS would.
/// </summary>
public static unsafe class SigsysReporter
{
    /// <summary>The exit status after a refused call.</summary>
    public const int ExitStatus = 128 + SeccompConstants.SIGSYS;

    private static nint s_code;

    /// <summary>The line for <paramref name="number"/> (null: a number outside x86-64's table, or another arch's).</summary>
    public static string Line(int? number) => number is { } n and >= 0 and < SyscallNumbers.Limit
        ? $"kvmsharp: the sandbox stopped the VMM: it made system call {SyscallNumbers.NameOf(n) ?? "#" + n} ({n}), which its seccomp filter does not allow (--seccomp log to find such calls, --sandbox off to run unconfined)\n"
        : "kvmsharp: the sandbox stopped the VMM: it made a system call of another architecture or ABI, which its seccomp filter does not allow\n";

    /// <summary>Installs the handler for SIGSYS; once per process (later calls do nothing).</summary>
    public static void Install()
    {
        if (s_code != 0) return;
        byte[] image = BuildImage(out int handlerOffset, out int tableOffset);
        nuint length = (nuint)((image.Length + 4095) & ~4095);
        nint memory = LibcImports.Mmap(0, length, LibcConstants.PROT_READ | LibcConstants.PROT_WRITE, LibcConstants.MAP_PRIVATE | LibcConstants.MAP_ANONYMOUS, -1, 0);
        if (memory == -1) throw new NativeException("mmap for the SIGSYS reporter", Marshal.GetLastPInvokeError());
        // The table's absolute address goes into the code (mov rcx, imm64), so the image is finished only now.
        BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(handlerOffset + TableAddressAt), memory + tableOffset);
        image.CopyTo(new Span<byte>((void*)memory, image.Length));
        if (SandboxImports.Mprotect(memory, length, LibcConstants.PROT_READ | LibcConstants.PROT_EXEC) != 0)
            throw new NativeException("mprotect of the SIGSYS reporter", Marshal.GetLastPInvokeError());
        var action = new SigAction { Handler = memory + handlerOffset, Flags = SeccompConstants.SA_SIGINFO | SeccompConstants.SA_ONSTACK };
        if (SandboxImports.SigAction(SeccompConstants.SIGSYS, &action, null) != 0)
            throw new NativeException("sigaction(SIGSYS)", Marshal.GetLastPInvokeError());
        s_code = memory;
    }

    /// <summary>Where the imm64 of "mov rcx, table" sits in the handler.</summary>
    private const int TableAddressAt = 26;

    /// <summary>
    /// The table (one (offset, length) pair of u32 per number 0..Limit, then entry Limit for everything else,
    /// then the lines) followed by the handler. The handler, for (int sig, siginfo_t *info, void *context):
    /// siginfo's si_syscall is the int at offset 24 and si_arch the u32 at 28 (asm-generic/siginfo.h, _sigsys).
    /// </summary>
    private static byte[] BuildImage(out int handlerOffset, out int tableOffset)
    {
        const int entries = SyscallNumbers.Limit + 1;
        var lines = new MemoryStream();
        var table = new byte[entries * 8];
        for (int n = 0; n < entries; n++)
        {
            byte[] line = Encoding.ASCII.GetBytes(Line(n < SyscallNumbers.Limit ? n : null));
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(n * 8), (uint)(table.Length + lines.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(n * 8 + 4), (uint)line.Length);
            lines.Write(line);
        }
        byte[] handler =
        [
            0x81, 0x7E, 0x1C, 0x3E, 0x00, 0x00, 0xC0,            // cmp dword [rsi+28], AUDIT_ARCH_X86_64
            0x75, 0x0A,                                          // jne other
            0x8B, 0x46, 0x18,                                    // mov eax, [rsi+24]   ; si_syscall (zero-extends rax)
            0x3D, .. Le32(SyscallNumbers.Limit),                 // cmp eax, Limit
            0x72, 0x05,                                          // jb known
            // other:
            0xB8, .. Le32(SyscallNumbers.Limit),                 // mov eax, Limit      ; the generic line
            // known:
            0x48, 0xB9, 0, 0, 0, 0, 0, 0, 0, 0,                  // mov rcx, table      ; patched in Install
            0x8B, 0x54, 0xC1, 0x04,                              // mov edx, [rcx+rax*8+4] ; length
            0x8B, 0x34, 0xC1,                                    // mov esi, [rcx+rax*8]   ; offset from the table
            0x48, 0x01, 0xCE,                                    // add rsi, rcx
            0xBF, 0x02, 0x00, 0x00, 0x00,                        // mov edi, 2
            0xB8, .. Le32(SyscallNumbers.Of("write")),           // mov eax, __NR_write
            0x0F, 0x05,                                          // syscall
            0xBF, .. Le32(ExitStatus),                           // mov edi, 159
            0xB8, .. Le32(SyscallNumbers.Of("exit_group")),      // mov eax, __NR_exit_group
            0x0F, 0x05,                                          // syscall
            0x0F, 0x0B,                                          // ud2 (never reached)
        ];
        tableOffset = 0;
        handlerOffset = (int)((table.Length + lines.Length + 15) & ~15);
        var image = new byte[handlerOffset + handler.Length];
        table.CopyTo(image, 0);
        lines.ToArray().CopyTo(image, table.Length);
        handler.CopyTo(image, handlerOffset);
        return image;
    }

    private static byte[] Le32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }
}
