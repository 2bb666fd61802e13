using KvmSharp.Memory;

namespace KvmSharp.Boot.Multiboot;

/// <summary>
/// Loads an image by the address fields of its multiboot header (flag 16, the "a.out kludge",
/// Multiboot 0.6.96 §3.1.3): the file from (header offset − (header_addr − load_addr)) is copied to
/// load_addr up to load_end_addr (0 = end of file), then [load_end_addr, bss_end_addr) is zeroed
/// (0 = no bss). All fields are physical addresses, all are checked.
/// </summary>
internal static class AoutKludgeImage
{
    public static LoadedImage Load(GuestMemory memory, ReadOnlySpan<byte> image, MultibootHeader header, ulong lowRamEnd)
    {
        ulong headerAddr = header.HeaderAddress, load = header.LoadAddress;
        if (load > headerAddr || headerAddr - load > (ulong)header.Offset)
            throw new BootImageException(
                $"multiboot header is inconsistent: load_addr 0x{load:x} and header_addr 0x{headerAddr:x} put the load start outside the file");
        ulong fileOffset = (ulong)header.Offset - (headerAddr - load);
        ulong available = (ulong)image.Length - fileOffset;

        ulong loadEnd = header.LoadEndAddress == 0 ? load + available : header.LoadEndAddress;
        if (loadEnd < load || loadEnd - load > available)
            throw new BootImageException(
                $"multiboot image is truncated or inconsistent: load_end_addr 0x{loadEnd:x} asks for more than the {available} bytes the file has after load_addr");
        ulong loadSize = loadEnd - load;

        ulong bssEnd = header.BssEndAddress == 0 ? loadEnd : header.BssEndAddress;
        if (bssEnd < loadEnd)
            throw new BootImageException($"multiboot header is inconsistent: bss_end_addr 0x{bssEnd:x} is below load_end_addr 0x{loadEnd:x}");
        LoadRange.Check(load, bssEnd - load, lowRamEnd, "multiboot kernel");

        if (header.EntryAddress < load || header.EntryAddress >= Math.Max(loadEnd, load + 1))
            throw new BootImageException($"multiboot header's entry_addr 0x{header.EntryAddress:x} is outside the loaded image [0x{load:x}, 0x{loadEnd:x})");

        memory.Write(new GuestAddress(load), image.Slice((int)fileOffset, (int)loadSize));
        memory.ClearRange(new GuestAddress(loadEnd), bssEnd - loadEnd);
        return new LoadedImage(header.EntryAddress, bssEnd);
    }
}
