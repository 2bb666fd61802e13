using KvmSharp.Memory;

namespace KvmSharp.Boot.Linux;

/// <summary>
/// Where a bzImage goes in guest RAM and how much RAM it claims while it boots.
/// We always put the protected-mode kernel at 1 MiB (<see cref="MemoryMap.KernelStart"/>), as the boot
/// protocol's default "code32_start" has it. The 64-bit entry (arch/x86/boot/compressed/head_64.S,
/// startup_64) then picks its run address itself: for a relocatable kernel the load address rounded up to
/// kernel_alignment, but never below LOAD_PHYSICAL_ADDR (= pref_address); for a non-relocatable one
/// LOAD_PHYSICAL_ADDR. It decompresses into [run address, run address + init_size), so that range, too,
/// must be RAM and must stay clear of the initrd (boot.rst, field "init_size").
/// </summary>
public readonly record struct KernelPlacement(ulong LoadAddress, ulong RunAddress, ulong FootprintEnd)
{
    /// <summary>Computes the placement; throws <see cref="BootImageException"/> when it does not fit below <paramref name="lowRamEnd"/>.</summary>
    public static KernelPlacement For(LinuxBootImage image, ulong lowRamEnd)
    {
        ulong load = MemoryMap.KernelStart;
        ulong pref = image.PrefAddress == 0 ? load : image.PrefAddress;
        ulong run = pref;
        if (image.Relocatable)
        {
            ulong align = image.KernelAlignment;
            ulong aligned = (load + align - 1) & ~(align - 1);
            run = Math.Max(aligned, pref);
        }

        // pref_address and init_size come from the file: 64-bit sums, checked against RAM below.
        ulong loadedEnd = load + (ulong)image.KernelSize;
        ulong runEnd = run > ulong.MaxValue - image.InitSize ? ulong.MaxValue : run + image.InitSize;
        ulong footprintEnd = Math.Max(loadedEnd, runEnd);
        if (footprintEnd > lowRamEnd)
            throw new BootImageException(
                $"kernel needs guest RAM up to {Mib(footprintEnd)} MiB (load at 0x{load:x}, decompress at 0x{run:x}, init_size " +
                $"{Mib(image.InitSize)} MiB) but RAM below the PCI hole ends at {Mib(lowRamEnd)} MiB; give the VM more memory");
        return new KernelPlacement(load, run, footprintEnd);
    }

    private static ulong Mib(ulong bytes) => (bytes + (1 << 20) - 1) >> 20;

    /// <summary>
    /// The highest page-aligned spot for an initrd of <paramref name="size"/> bytes that ends at or below
    /// initrd_addr_max (the last byte it may occupy, boot.rst) and the end of low RAM, and starts above the
    /// kernel's footprint.
    /// </summary>
    public ulong PlaceInitrd(LinuxBootImage image, ulong size, ulong lowRamEnd)
    {
        ulong limit = Math.Min((ulong)image.InitrdAddrMax + 1, lowRamEnd);
        ulong start = limit >= size ? (limit - size) & ~(MemoryMap.PageSize - 1) : 0;
        if (limit < size || start < FootprintEnd)
            throw new BootImageException(
                $"initrd of {Mib(size)} MiB does not fit between the kernel (ends at {Mib(FootprintEnd)} MiB) and " +
                $"{Mib(limit)} MiB (initrd_addr_max / end of low RAM); give the VM more memory or use a smaller initrd");
        return start;
    }
}
