using System.Runtime.CompilerServices;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// LOCK-prefixed read-modify-write across vCPUs (SDM vol 3 §9.1.2). Locked instructions of one VM are
// serialized by PhysicalMemory.LockedInstructions; against plain stores of other vCPUs, the write of a
// locked instruction is a host compare-and-swap against the value its read saw. When another vCPU stored
// in between, the swap fails and the instruction runs again from the start (LockedWriteConflict), so a
// plain store — a spinlock release, say — is never overwritten by a stale value (e.g. the write-back of a
// failed LOCK CMPXCHG).
public sealed unsafe partial class Mmu
{
    /// <summary>The VM's RAM (and its lock for locked instructions).</summary>
    public PhysicalMemory Physical => _physical;

    private byte* _lockedLocation;
    private ulong _lockedValue;

    /// <summary>True while a locked instruction runs: reads remember their location, the matching write swaps.</summary>
    public bool InLockedInstruction
    {
        get => _inLockedInstruction;
        set
        {
            _inLockedInstruction = value;
            _lockedLocation = null;
        }
    }

    private bool _inLockedInstruction;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RememberLockedRead(byte* location, ulong value)
    {
        _lockedLocation = location;
        _lockedValue = value;
    }

    /// <summary>
    /// The write half of a locked read-modify-write: a compare-and-swap when it goes to the location just
    /// read (naturally aligned, so the host does it in one locked instruction without a split lock).
    /// </summary>
    private bool TryLockedWrite(byte* location, int size, ulong value)
    {
        if (location != _lockedLocation || ((nint)location & (size - 1)) != 0) return false;
        ulong expected = _lockedValue;
        bool swapped = size switch
        {
            1 => Interlocked.CompareExchange(ref *location, (byte)value, (byte)expected) == (byte)expected,
            2 => Interlocked.CompareExchange(ref *(ushort*)location, (ushort)value, (ushort)expected) == (ushort)expected,
            4 => Interlocked.CompareExchange(ref *(uint*)location, (uint)value, (uint)expected) == (uint)expected,
            _ => Interlocked.CompareExchange(ref *(ulong*)location, value, expected) == expected,
        };
        if (!swapped) throw LockedWriteConflict.Instance;
        _lockedLocation = null;
        return true;
    }

    /// <summary>
    /// CMPXCHG8B as one 8-byte compare-and-swap when the operand is aligned RAM (SDM "CMPXCHG8B"): the
    /// value found, or null when the generic path (under the VM's lock) must do it.
    /// </summary>
    public ulong? CompareExchange8(ulong linear, ulong expected, ulong replacement)
    {
        if ((linear & 7) != 0) return null;
        byte* p = HostPointer(linear, 8, AccessKind.Write, out ulong physical);
        if (p == null) return null;
        ulong found = Interlocked.CompareExchange(ref *(ulong*)p, replacement, expected);
        if (found == expected) _physical.NoteWrite(physical, 8);
        return found;
    }
}

/// <summary>A locked instruction's write found memory changed since its read: the instruction runs again.</summary>
public sealed class LockedWriteConflict : Exception
{
    public static readonly LockedWriteConflict Instance = new();

    private LockedWriteConflict() : base("locked write conflict") { }
}
