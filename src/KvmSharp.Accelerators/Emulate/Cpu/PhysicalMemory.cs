using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// Guest-physical RAM as the emulator sees it: host pointers for the fast path, and a bitmap of pages
/// that hold decoded code so a write to one invalidates what was decoded from it (self-modifying code,
/// kernel alternatives patching).
/// </summary>
public sealed unsafe class PhysicalMemory
{
    private readonly (ulong Start, ulong End, nint Host, bool Writable)[] _ranges;
    private readonly ulong[] _codePageBits;
    private readonly ulong _highestPage;

    /// <summary>Called with a physical page number whose decoded code is now stale.</summary>
    public event Action<ulong>? CodePageWritten;

    public PhysicalMemory(GuestMemory memory)
    {
        Memory = memory;
        // The firmware's flash is read-only to the vCPUs, as KVM's read-only slot makes it: a write goes to the MMIO bus.
        _ranges = memory.MappedRegions.Select(r => (r.Start.Value, r.End, r.HostAddress, r != memory.Firmware)).ToArray();
        _highestPage = _ranges.Max(r => r.End) >> 12;
        // Pinned: translated stores test the bit in place before writing.
        _codePageBits = GC.AllocateArray<ulong>((int)((_highestPage + 64) / 64), pinned: true);
        _dirtyLogOn = GC.AllocateArray<int>(1, pinned: true);
    }

    /// <summary>The code-page bitmap (pinned), one bit per physical page below <see cref="HighestPage"/>.</summary>
    internal ulong* CodePageBits => (ulong*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _codePageBits[0]);

    internal ulong HighestPage => _highestPage;

    /// <summary>Non-zero while a dirty log is on (pinned): translated code with paging off then leaves stores to the interpreter, which logs them.</summary>
    internal int* DirtyLogOn => (int*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _dirtyLogOn[0]);

    private readonly int[] _dirtyLogOn;

    /// <summary>The mapped regions (start, end, host address, whether writable: not the flash), lowest first.</summary>
    internal ReadOnlySpan<(ulong Start, ulong End, nint Host, bool Writable)> Ranges => _ranges;

    public GuestMemory Memory { get; }

    private volatile DirtyPageBitmap? _dirtyLog;

    /// <summary>
    /// While set, the pages the CPUs write are marked here (live migration). The MMU marks a page when it creates a
    /// writable translation for it, and on every write where there is no translation to cache (paging off); see
    /// <see cref="Mmu.DropWriteAccess"/> for how a page gets marked again after the log was taken.
    /// </summary>
    public DirtyPageBitmap? DirtyLog
    {
        get => _dirtyLog;
        set
        {
            _dirtyLog = value;
            Volatile.Write(ref _dirtyLogOn[0], value is null ? 0 : 1);
        }
    }

    /// <summary>Marks [physical, physical+length) in the dirty log, if one is on; addresses outside RAM are ignored.</summary>
    public void LogWrite(ulong physical, ulong length) => _dirtyLog?.Mark(physical, length);

    /// <summary>Serializes LOCK-prefixed instructions of all vCPUs of this VM (see Mmu.Locked.cs).</summary>
    public Lock LockedInstructions { get; } = new();

    /// <summary>A host pointer to [physical, physical+size) when it is all RAM in one region; null otherwise.</summary>
    public byte* HostPointer(ulong physical, int size)
    {
        foreach (var (start, end, host, _) in _ranges)
            if (physical >= start && physical < end && (ulong)size <= end - physical)
                return (byte*)host + (physical - start);
        return null;
    }

    /// <summary>As <see cref="HostPointer"/>, for a write: null also for read-only memory (the flash).</summary>
    public byte* WritableHostPointer(ulong physical, int size)
    {
        foreach (var (start, end, host, writable) in _ranges)
            if (physical >= start && physical < end && (ulong)size <= end - physical)
                return writable ? (byte*)host + (physical - start) : null;
        return null;
    }

    /// <summary>Whether <paramref name="physical"/> is memory the vCPUs may read but not write (the flash).</summary>
    public bool IsReadOnlyMemory(ulong physical) => HostPointer(physical, 1) != null && WritableHostPointer(physical, 1) == null;

    public bool IsRam(ulong physical) => HostPointer(physical, 1) != null;

    public void MarkCodePage(ulong page)
    {
        if (page < _highestPage) _codePageBits[page / 64] |= 1UL << (int)(page % 64);
    }

    /// <summary>
    /// <see cref="NoteWrite"/> for a write within one page (the MMU's fast path): one bit test inline, the
    /// invalidation out of line.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void NoteWriteInPage(ulong physical)
    {
        ulong page = physical >> 12;
        if (page < _highestPage && (_codePageBits[page / 64] & (1UL << (int)(page % 64))) != 0) NoteWrite(physical, 1);
    }

    /// <summary>Called after every emulated write to RAM: invalidates decoded code on the written page(s).</summary>
    public void NoteWrite(ulong physical, int size)
    {
        ulong first = physical >> 12, last = (physical + (ulong)size - 1) >> 12;
        for (ulong page = first; page <= last && page < _highestPage; page++)
        {
            ref ulong word = ref _codePageBits[page / 64];
            ulong bit = 1UL << (int)(page % 64);
            if ((word & bit) == 0) continue;
            word &= ~bit;
            CodePageWritten?.Invoke(page);
        }
    }

    public uint ReadPhysical32(ulong physical) =>
        HostPointer(physical, 4) is var p && p != null ? *(uint*)p : throw new CpuException(ExceptionVector.GeneralProtection);

    public ulong ReadPhysical64(ulong physical) =>
        HostPointer(physical, 8) is var p && p != null ? *(ulong*)p : throw new CpuException(ExceptionVector.GeneralProtection);

    /// <summary>Sets bits in a paging-structure entry atomically: other vCPUs may walk or update the same entry.</summary>
    public void OrPhysical32(ulong physical, uint bits)
    {
        uint* p = (uint*)HostPointer(physical, 4);
        if (p == null || (*p & bits) == bits) return;
        Interlocked.Or(ref *p, bits);
        LogWrite(physical, 4);
    }

    public void OrPhysical64(ulong physical, ulong bits)
    {
        ulong* p = (ulong*)HostPointer(physical, 8);
        if (p == null || (*p & bits) == bits) return;
        Interlocked.Or(ref *p, bits);
        LogWrite(physical, 8);
    }
}
