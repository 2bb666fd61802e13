using KvmSharp.Memory;

namespace KvmSharp.Boot;

/// <summary>
/// The firmware memory map that a KvmSharp guest is told about, derived from <see cref="MemoryMap"/> and the
/// RAM size. Linux reads it from boot_params.e820_table; multiboot kernels read the same ranges from mmap.
/// In address order:
/// RAM [0, EBDA) · reserved [EBDA, 1 MiB) (EBDA, VGA hole, option ROMs, our ACPI tables at 0xE0000) ·
/// RAM [1 MiB, end of low RAM) · reserved PCI ECAM (so the kernel trusts MCFG) · RAM above 4 GiB, if any.
/// </summary>
public sealed class E820Map
{
    private readonly E820Entry[] _entries;

    private E820Map(E820Entry[] entries, ulong lowRamEnd, ulong highRamSize)
    {
        _entries = entries;
        LowRamEnd = lowRamEnd;
        HighRamSize = highRamSize;
    }

    public IReadOnlyList<E820Entry> Entries => _entries;

    /// <summary>One past the last byte of RAM below the PCI hole.</summary>
    public ulong LowRamEnd { get; }

    /// <summary>Bytes of RAM at and above 4 GiB (0 when all RAM fits below the hole).</summary>
    public ulong HighRamSize { get; }

    /// <summary>The map for a guest with <paramref name="ramSize"/> bytes of RAM laid out by <see cref="MemoryMap.RamRanges"/>.</summary>
    public static E820Map ForRam(ulong ramSize)
    {
        var ranges = MemoryMap.RamRanges(ramSize);
        ulong lowEnd = ranges[0].Start.Value + ranges[0].Size;
        ulong high = ranges.Count > 1 ? ranges[1].Size : 0;

        var entries = new List<E820Entry>
        {
            new(0, MemoryMap.EbdaStart, E820Type.Ram),
            new(MemoryMap.EbdaStart, MemoryMap.KernelStart - MemoryMap.EbdaStart, E820Type.Reserved),
            new(MemoryMap.KernelStart, lowEnd - MemoryMap.KernelStart, E820Type.Ram),
            new(MemoryMap.PciEcamStart, MemoryMap.PciEcamSize, E820Type.Reserved),
        };
        if (high != 0)
            entries.Add(new E820Entry(MemoryMap.PciHoleEnd, high, E820Type.Ram));
        return new E820Map([.. entries], lowEnd, high);
    }
}
