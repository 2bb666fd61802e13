using System.Runtime.CompilerServices;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

public enum AccessKind : byte { Read, Write, Execute }

/// <summary>
/// Linear → physical translation for one vCPU (Intel SDM vol 3 §4: 32-bit, PAE and 4-level paging; 4 KiB,
/// 2/4 MiB and 1 GiB pages; U/S, R/W with CR0.WP, NX; accessed and dirty bits) with a direct-mapped
/// software TLB, and data access to RAM through host pointers or to MMIO through <see cref="IMmioPort"/>.
/// </summary>
public sealed unsafe partial class Mmu
{
    private const int TlbSize = 1024;
    private const ulong PageMask = ~0xFFFUL;

    private readonly CpuState _cpu;
    private readonly PhysicalMemory _physical;
    private readonly IMmioPort _mmio;
    // Pinned: the block translator's code probes it in place (see Translate/SoftTlbProbe).
    private readonly TlbEntry[] _tlb = GC.AllocateArray<TlbEntry>(TlbSize, pinned: true);

    /// <summary>The TLB's first entry (pinned), for translated code.</summary>
    internal TlbEntry* TlbPointer => (TlbEntry*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _tlb[0]);

    internal const int TlbEntries = TlbSize;

    // Permissions are folded into tags when the entry is filled: a tag is the linear page | 1 when that access
    // (read, write, fetch) at that privilege (supervisor, user) is allowed, else 0, so a lookup is one compare
    // and no permission check. A write tag stays 0 until the page is dirty (the walk sets D and logs the
    // write). LinearPage is the supervisor read tag (supervisor reads are always allowed). CR0.WP is read at
    // fill time: every CR0 write flushes the TLB.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    internal struct TlbEntry
    {
        public ulong LinearPage;       // page | 1 when valid
        public ulong PhysicalPage;
        public nint HostPage;          // 0 for MMIO
        public ulong UserRead, Write, UserWrite, Execute, UserExecute;
    }

    public Mmu(CpuState cpu, PhysicalMemory physical, IMmioPort mmio)
    {
        _cpu = cpu;
        _physical = physical;
        _mmio = mmio;
    }

    /// <summary>
    /// Changes whenever a cached translation may have become wrong: anything that caches a
    /// linear→physical result (the block chain links of <see cref="CpuCore"/>) checks it.
    /// </summary>
    public uint TranslationEpoch { get; private set; }

    /// <summary>Drops every cached translation (CR3 load, CR0/CR4 paging bit changes).</summary>
    public void FlushTlb()
    {
        Array.Clear(_tlb);
        TranslationEpoch++;
    }

    /// <summary>
    /// Makes every cached translation read-only for writes, so the next write to each page walks the tables again
    /// and marks the page in the dirty log. Called with the log's collection, while the vCPU is outside
    /// <see cref="CpuCore.Run"/> (its owner is parked), which is what makes touching the TLB from another thread safe.
    /// </summary>
    public void DropWriteAccess()
    {
        for (int i = 0; i < _tlb.Length; i++) _tlb[i].Write = _tlb[i].UserWrite = 0;
    }

    /// <summary>INVLPG.</summary>
    public void FlushPage(ulong linear)
    {
        _tlb[(linear >> 12) % TlbSize] = default;
        TranslationEpoch++;
    }

    /// <summary>
    /// Set while the CPU accesses memory for itself — descriptor tables, the TSS, the stack of a more
    /// privileged interrupt handler: those are supervisor-mode accesses whatever the CPL (SDM vol 3 §4.6.1).
    /// </summary>
    public bool ImplicitSupervisor;

    private bool UserAccess => _cpu.Cpl == 3 && !ImplicitSupervisor;

    /// <summary>The physical address of <paramref name="linear"/> for an access of this kind; raises #PF when not allowed.</summary>
    public ulong Translate(ulong linear, AccessKind kind)
    {
        if (!_cpu.Paging) return _cpu.LongModeActive ? linear : linear & 0xFFFF_FFFF;
        ref var entry = ref Lookup(linear, kind);
        return entry.PhysicalPage | (linear & 0xFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref TlbEntry Lookup(ulong linear, AccessKind kind)
    {
        ref var entry = ref _tlb[(linear >> 12) % TlbSize];
        ulong tag = (linear & PageMask) | 1;
        bool user = UserAccess;
        ulong allowed = kind switch   // a constant at every call site once inlined
        {
            AccessKind.Write => user ? entry.UserWrite : entry.Write,
            AccessKind.Execute => user ? entry.UserExecute : entry.Execute,
            _ => user ? entry.UserRead : entry.LinearPage,
        };
        if (allowed == tag) return ref entry;
        Walk(linear, kind, ref entry);
        return ref entry;
    }

    /// <summary>A host pointer to <paramref name="size"/> bytes at a linear address, or 0 when the access is MMIO or crosses a page.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* HostPointer(ulong linear, int size, AccessKind kind, out ulong physical)
    {
        if (!_cpu.Paging)
        {
            physical = _cpu.LongModeActive ? linear : linear & 0xFFFF_FFFF;
            // No translation is cached without paging, so each write marks the dirty log itself.
            if (kind == AccessKind.Write) _physical.LogWrite(physical, (ulong)size);
            if ((linear & 0xFFF) + (ulong)size > 0x1000) return null;
            return kind == AccessKind.Write ? _physical.WritableHostPointer(physical, size) : _physical.HostPointer(physical, size);
        }
        ref var entry = ref Lookup(linear, kind);
        physical = entry.PhysicalPage | (linear & 0xFFF);
        if (entry.HostPage == 0 || (linear & 0xFFF) + (ulong)size > 0x1000) return null;
        // Read-only memory (the flash) never gets a write tag (see Walk): its writes take the MMIO path.
        if (kind == AccessKind.Write && (entry.Write | entry.UserWrite) == 0) return null;
        return (byte*)entry.HostPage + (linear & 0xFFF);
    }

    public ulong Read(ulong linear, int size)
    {
        byte* p = HostPointer(linear, size, AccessKind.Read, out ulong physical);
        if (p != null)
        {
            ulong value = size switch { 1 => *p, 2 => *(ushort*)p, 4 => *(uint*)p, _ => *(ulong*)p };
            if (_inLockedInstruction) RememberLockedRead(p, value);
            return value;
        }
        ulong slow = ReadSlow(linear, physical, size);
        _lockedLocation = null;   // MMIO or a page-crossing read: the VM's lock is all a locked instruction gets
        return slow;
    }

    public void Write(ulong linear, int size, ulong value)
    {
        byte* p = HostPointer(linear, size, AccessKind.Write, out ulong physical);
        if (p != null)
        {
            if (_inLockedInstruction && TryLockedWrite(p, size, value))
            {
                _physical.NoteWrite(physical, size);
                return;
            }
            switch (size)
            {
                case 1: *p = (byte)value; break;
                case 2: *(ushort*)p = (ushort)value; break;
                case 4: *(uint*)p = (uint)value; break;
                default: *(ulong*)p = value; break;
            }
            _physical.NoteWriteInPage(physical);
            return;
        }
        WriteSlow(linear, physical, size, value);
    }

    private ulong ReadSlow(ulong linear, ulong physical, int size)
    {
        if ((linear & 0xFFF) + (ulong)size > 0x1000)
        {
            ulong value = 0;
            for (int i = 0; i < size; i++) value |= Read(linear + (ulong)i, 1) << (8 * i);
            return value;
        }
        return _mmio.Read(physical, size);
    }

    private void WriteSlow(ulong linear, ulong physical, int size, ulong value)
    {
        if ((linear & 0xFFF) + (ulong)size > 0x1000)
        {
            // Translate both pages first so a fault on the second leaves memory untouched.
            Translate(linear, AccessKind.Write);
            Translate(linear + (ulong)size - 1, AccessKind.Write);
            for (int i = 0; i < size; i++) Write(linear + (ulong)i, 1, value >> (8 * i));
            return;
        }
        _mmio.Write(physical, size, value);
    }
}

/// <summary>Where the CPU sends accesses to physical addresses that are not RAM.</summary>
public interface IMmioPort
{
    /// <summary>Returns the value read, or throws <see cref="MmioReadPending"/> after recording the access for an exit.</summary>
    ulong Read(ulong physical, int size);
    void Write(ulong physical, int size, ulong value);
}
