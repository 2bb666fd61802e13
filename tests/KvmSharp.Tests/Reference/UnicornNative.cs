using System.Runtime.InteropServices;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// P/Invoke bindings for Unicorn 2 (Debian's <c>libunicorn2</c>, <c>libunicorn.so.2</c>), used only by
/// tests as the reference CPU. Constants are our own, transcribed from Unicorn 2.0.1's
/// <c>unicorn/unicorn.h</c> (uc_arch, uc_mode, uc_err, uc_prot, uc_hook_type) and <c>unicorn/x86.h</c>
/// (uc_x86_reg, uc_x86_mmr, uc_x86_msr), and checked against a C program compiled with those headers.
/// </summary>
internal static unsafe partial class UnicornNative
{
    /// <summary>The soname Debian ships; the unversioned .so is only in libunicorn-dev.</summary>
    public const string Library = "libunicorn.so.2";

    public const int ArchX86 = 4;   // UC_ARCH_X86
    public const int Mode16 = 1 << 1; // UC_MODE_16
    public const int Mode32 = 1 << 2; // UC_MODE_32
    public const int Mode64 = 1 << 3; // UC_MODE_64
    public const uint ProtAll = 7;  // UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC
    public const int HookIntr = 1 << 0; // UC_HOOK_INTR

    /// <summary>uc_err (unicorn.h), in declaration order.</summary>
    public enum Error
    {
        Ok = 0, NoMem, Arch, Handle, Mode, Version, ReadUnmapped, WriteUnmapped, FetchUnmapped, Hook,
        InsnInvalid, Map, WriteProt, ReadProt, FetchProt, Arg, ReadUnaligned, WriteUnaligned,
        FetchUnaligned, HookExist, Resource, Exception,
    }

    /// <summary>uc_x86_reg values (x86.h) for the registers we use; the enum has gaps, so they are listed.</summary>
    public static class Reg
    {
        public const int Cs = 11, Ds = 17, Eax = 19, Ebp = 20, Ebx = 21, Ecx = 22, Edi = 23, Edx = 24;
        public const int Eflags = 25, Eip = 26, Es = 28, Esi = 29, Esp = 30, Fs = 32, Gs = 33, Ip = 34;
        public const int Rax = 35, Rbp = 36, Rbx = 37, Rcx = 38, Rdi = 39, Rdx = 40, Rip = 41, Rsi = 43, Rsp = 44;
        public const int Ss = 49, Cr0 = 50, Cr2 = 52, Cr3 = 53, Cr4 = 54;
        public const int R8 = 106; // R8..R15 are consecutive
        public const int Xmm0 = 122; // XMM0..XMM15 are consecutive
        public const int Idtr = 242, Gdtr = 243, Msr = 248, Mxcsr = 249, FsBase = 250, GsBase = 251;
        public const int Rflags = 253;
    }

    /// <summary>uc_x86_mmr: selector, base, limit, flags (24 bytes with C padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct X86Mmr
    {
        public ushort Selector;
        public ulong Base;
        public uint Limit;
        public uint Flags;
    }

    /// <summary>uc_x86_msr: the MSR index and its value (16 bytes with C padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct X86Msr
    {
        public uint Index;
        public ulong Value;
    }

    [LibraryImport(Library, EntryPoint = "uc_open")]
    public static partial Error Open(int arch, int mode, out nint uc);

    [LibraryImport(Library, EntryPoint = "uc_close")]
    public static partial Error Close(nint uc);

    [LibraryImport(Library, EntryPoint = "uc_mem_map")]
    public static partial Error MemMap(nint uc, ulong address, nuint size, uint perms);

    [LibraryImport(Library, EntryPoint = "uc_mem_write")]
    public static partial Error MemWrite(nint uc, ulong address, byte* bytes, nuint size);

    [LibraryImport(Library, EntryPoint = "uc_mem_read")]
    public static partial Error MemRead(nint uc, ulong address, byte* bytes, nuint size);

    /// <summary>value points at a buffer of the register's size: 8 bytes for GPRs, 16 for XMM, a struct for GDTR/MSR.</summary>
    [LibraryImport(Library, EntryPoint = "uc_reg_write")]
    public static partial Error RegWrite(nint uc, int regId, void* value);

    [LibraryImport(Library, EntryPoint = "uc_reg_read")]
    public static partial Error RegRead(nint uc, int regId, void* value);

    /// <summary>Runs from begin until the PC equals until, timeout (µs) passes, or count instructions ran (0 = no limit).</summary>
    [LibraryImport(Library, EntryPoint = "uc_emu_start")]
    public static partial Error EmuStart(nint uc, ulong begin, ulong until, ulong timeout, nuint count);

    [LibraryImport(Library, EntryPoint = "uc_emu_stop")]
    public static partial Error EmuStop(nint uc);

    /// <summary>
    /// uc_hook_add is variadic (begin, end follow as uint64_t). Under the SysV x86-64 ABI variadic integer
    /// arguments travel exactly like fixed ones, so a fixed signature calls it correctly on this host.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "uc_hook_add")]
    public static partial Error HookAdd(nint uc, out nint hook, int type, void* callback, void* userData, ulong begin, ulong end);

    [LibraryImport(Library, EntryPoint = "uc_strerror")]
    public static partial nint StrError(Error code);

    public static string Describe(Error code) => Marshal.PtrToStringUTF8(StrError(code)) ?? code.ToString();
}
