using System.Buffers.Binary;
using KvmSharp.Memory;

namespace KvmSharp.Boot.Multiboot;

/// <summary>
/// Loads the PT_LOAD segments of an ELF32 or ELF64 x86 executable at their physical addresses (System V ABI
/// gABI, "Program Header"; Multiboot 0.6.96 §3.1.3: without flag 16 the loader uses the ELF headers). Every
/// number in the file is hostile: offsets and sizes are checked against the file and RAM before any copy.
/// </summary>
internal static class ElfKernelImage
{
    private const uint PtLoad = 1;
    private const ushort EtExec = 2, Em386 = 3, EmX86_64 = 62;
    private const ushort PnXnum = 0xFFFF;

    public static bool IsElf(ReadOnlySpan<byte> image) =>
        image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';

    public static LoadedImage Load(GuestMemory memory, ReadOnlySpan<byte> image, ulong lowRamEnd)
    {
        bool is64 = image.Length > 4 && image[4] == 2;
        int headerSize = is64 ? 64 : 52;
        if (image.Length < headerSize)
            throw new BootImageException($"ELF kernel is truncated: {image.Length} bytes, less than its {headerSize}-byte ELF header");
        if (image[4] is not (1 or 2) || image[5] != 1)
            throw new BootImageException("ELF kernel is not a little-endian ELF32/ELF64 file; build it for x86");
        ushort type = U16(image, 16), machine = U16(image, 18);
        if (type != EtExec || machine is not (Em386 or EmX86_64))
            throw new BootImageException($"ELF kernel has type {type} machine {machine}; multiboot needs an x86 executable (ET_EXEC, EM_386 or EM_X86_64)");

        ulong entry = is64 ? U64(image, 24) : U32(image, 24);
        ulong phoff = is64 ? U64(image, 32) : U32(image, 28);
        int phentsize = U16(image, is64 ? 54 : 42);
        int phnum = U16(image, is64 ? 56 : 44);
        int minEntry = is64 ? 56 : 32;
        if (phnum == 0 || phnum == PnXnum || phentsize < minEntry)
            throw new BootImageException($"ELF kernel has an unusable program header table ({phnum} entries of {phentsize} bytes)");
        ulong tableSize = (ulong)phnum * (ulong)phentsize;
        if (phoff > (ulong)image.Length || tableSize > (ulong)image.Length - phoff)
            throw new BootImageException("ELF kernel is truncated: its program header table runs past the end of the file");

        ulong end = 0;
        ulong? physicalEntry = null;
        for (int i = 0; i < phnum; i++)
        {
            var ph = image.Slice((int)phoff + i * phentsize, minEntry);
            if (U32(ph, 0) != PtLoad) continue;
            ulong offset = is64 ? U64(ph, 8) : U32(ph, 4);
            ulong vaddr = is64 ? U64(ph, 16) : U32(ph, 8);
            ulong paddr = is64 ? U64(ph, 24) : U32(ph, 12);
            ulong filesz = is64 ? U64(ph, 32) : U32(ph, 16);
            ulong memsz = is64 ? U64(ph, 40) : U32(ph, 20);
            string what = $"ELF segment {i}";
            if (filesz > memsz)
                throw new BootImageException($"ELF kernel is corrupt: {what} has p_filesz 0x{filesz:x} > p_memsz 0x{memsz:x}");
            if (offset > (ulong)image.Length || filesz > (ulong)image.Length - offset)
                throw new BootImageException($"ELF kernel is truncated: {what} (offset 0x{offset:x}, 0x{filesz:x} bytes) runs past the end of the file");
            if (memsz == 0) continue;
            LoadRange.Check(paddr, memsz, lowRamEnd, $"ELF kernel {what}");

            memory.Write(new GuestAddress(paddr), image.Slice((int)offset, (int)filesz));
            memory.ClearRange(new GuestAddress(paddr + filesz), memsz - filesz);
            end = Math.Max(end, paddr + memsz);

            // e_entry is virtual; translate it through the segment holding it, as GRUB does for higher-half kernels.
            if (physicalEntry is null && entry >= vaddr && entry - vaddr < memsz)
                physicalEntry = paddr + (entry - vaddr);
        }
        if (end == 0)
            throw new BootImageException("ELF kernel has no loadable (PT_LOAD) segment");
        if (physicalEntry is not { } physical || physical > uint.MaxValue)
            throw new BootImageException($"ELF kernel's entry point 0x{entry:x} is not inside any loaded segment");
        return new LoadedImage((uint)physical, end);
    }

    private static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);
    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
    private static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);
}
