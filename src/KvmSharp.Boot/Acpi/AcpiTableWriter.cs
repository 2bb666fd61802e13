using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Places tables one after another in guest memory, in [start, end) (the BIOS-scanned area, see
/// <see cref="MemoryMap.AcpiTables"/>), each aligned as asked. Adding a table (MCFG, an SSDT) is one
/// <see cref="Append"/> and adding its address to the XSDT list.
/// </summary>
public sealed class AcpiTableWriter(GuestMemory memory, GuestAddress start, GuestAddress end)
{
    private ulong _next = start.Value;

    /// <summary>Bytes used so far, padding included.</summary>
    public ulong Used => _next - start.Value;

    /// <summary>Claims <paramref name="length"/> bytes aligned to <paramref name="alignment"/> (a power of two) and returns their address.</summary>
    public GuestAddress Reserve(int length, int alignment = 16)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), "alignment must be a power of two");
        ulong at = (_next + (ulong)alignment - 1) & ~((ulong)alignment - 1);
        if (at + (ulong)length > end.Value)
            throw new InvalidOperationException(
                $"ACPI tables need more than the 0x{end.Value - start.Value:x} bytes at {start}: a table of {length} bytes does not fit");
        _next = at + (ulong)length;
        return new GuestAddress(at);
    }

    /// <summary>Copies <paramref name="table"/> into guest memory and returns its address.</summary>
    public GuestAddress Append(ReadOnlySpan<byte> table, int alignment = 16)
    {
        var at = Reserve(table.Length, alignment);
        memory.Write(at, table);
        return at;
    }
}
