using KvmSharp.Memory;

namespace KvmSharp.Boot.Multiboot;

/// <summary>What loading an OS image produced: its 32-bit physical entry point and one past its last byte (bss included).</summary>
internal readonly record struct LoadedImage(uint Entry, ulong End);

/// <summary>Checks of a load range taken from the file against the part of RAM a multiboot kernel may use.</summary>
internal static class LoadRange
{
    /// <summary>
    /// [start, start+size) must lie in [1 MiB, end of low RAM): below 1 MiB are our boot structures
    /// (GDT, info, scratch) and the EBDA/ACPI area. Throws <see cref="BootImageException"/> naming <paramref name="what"/>.
    /// </summary>
    public static void Check(ulong start, ulong size, ulong lowRamEnd, string what)
    {
        if (start < MemoryMap.KernelStart)
            throw new BootImageException(
                $"{what} loads at 0x{start:x}, below 1 MiB where KvmSharp keeps its boot structures; link the kernel at 1 MiB or above");
        if (size > lowRamEnd || start > lowRamEnd - size)
            throw new BootImageException(
                $"{what} needs guest RAM up to 0x{start + Math.Min(size, ulong.MaxValue - start):x} but RAM below the PCI hole ends at 0x{lowRamEnd:x}; give the VM more memory");
    }
}
