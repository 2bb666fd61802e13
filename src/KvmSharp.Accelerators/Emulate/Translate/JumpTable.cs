using System.Runtime.InteropServices;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Translated code's own jump cache (QEMU's tb_jmp_cache read by lookup_and_goto_ptr): translated blocks by guest
/// RIP in unmanaged memory, direct-mapped, so a block that ends in a return, an indirect jump or a jump to another
/// page goes on into the next translation without coming back to the run loop. The run loop adds each block it
/// enters; an entry carries the context it was made in (<see cref="Context"/>: translation epoch and execution mode)
/// and generated code compares it with the current one, so a TLB flush, INVLPG or mode change makes every older
/// entry miss with no flush of the table. A translation whose code was written is revoked in place (its body leaves
/// at once), so an entry that still leads there is harmless; a code-cache flush clears the table, since its space is
/// reused. One per vCPU, used by its thread only.
/// </summary>
public sealed unsafe class JumpTable : IDisposable
{
    public const int Entries = 4096;
    public const int EntrySize = 32;

    /// <summary>One entry: the guest RIP, the context, and where the translation's body is.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Entry
    {
        public ulong Rip;
        public ulong Context;
        public nint Body;
        public ulong Unused;
    }

    private Entry* _entries;

    public JumpTable()
    {
        if (sizeof(Entry) != EntrySize) throw new InvalidOperationException("generated code indexes 32-byte jump table entries");
        _entries = (Entry*)NativeMemory.AlignedAlloc((nuint)(Entries * EntrySize), 64);
        Clear();
    }

    /// <summary>Where the entries are (generated code reads them).</summary>
    public nint Pointer => (nint)_entries;

    /// <summary>The entry index for <paramref name="rip"/>; generated code computes the same (<c>(rip ^ rip &gt;&gt; 12) &amp; 4095</c>).</summary>
    public static int Slot(ulong rip) => (int)((rip ^ (rip >> 12)) & (Entries - 1));

    /// <summary>The context word of a CPU state; always odd, so it never matches an empty (zeroed) entry.</summary>
    public static ulong Context(uint epoch, int mode) => ((ulong)epoch << 32) | ((uint)mode << 1) | 1;

    /// <summary>
    /// The context the run loop sets where entries must not be used (a code segment with a base: RIP alone would not
    /// name the code): even and non-zero, so it matches no entry, filled or empty.
    /// </summary>
    public const ulong NoContext = 2;

    public void Add(ulong rip, ulong context, nint body)
    {
        ref var entry = ref _entries[Slot(rip)];
        entry.Rip = rip;
        entry.Context = context;
        entry.Body = body;
    }

    /// <summary>Forgets every entry (the code cache was flushed: the bodies no longer exist).</summary>
    public void Clear() => NativeMemory.Clear(_entries, (nuint)(Entries * EntrySize));

    public void Dispose()
    {
        if (_entries == null) return;
        NativeMemory.AlignedFree(_entries);
        _entries = null;
    }
}
