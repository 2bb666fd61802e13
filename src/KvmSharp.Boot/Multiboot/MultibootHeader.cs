using System.Buffers.Binary;

namespace KvmSharp.Boot.Multiboot;

/// <summary>
/// The Multiboot header of an OS image (Multiboot 0.6.96 §3.1): a 32-bit aligned structure within the
/// first 8192 bytes whose magic, flags and checksum sum to zero.
/// </summary>
public readonly record struct MultibootHeader(int Offset, uint Flags,
    uint HeaderAddress, uint LoadAddress, uint LoadEndAddress, uint BssEndAddress, uint EntryAddress)
{
    public const uint Magic = 0x1BAD_B002;
    public const int SearchLength = 8192;

    /// <summary>Flag bit 0: modules must be page aligned. We always align them.</summary>
    public const uint FlagPageAlignModules = 1 << 0;
    /// <summary>Flag bit 1: the kernel wants mem_* (and mmap). We always provide them.</summary>
    public const uint FlagMemoryInfo = 1 << 1;
    /// <summary>Flag bit 2: the kernel wants a video mode. We have no framebuffer to offer; the request is ignored (§3.1.2 lets the loader decide).</summary>
    public const uint FlagVideoMode = 1 << 2;
    /// <summary>Flag bit 16: the address fields at offsets 12–28 are valid ("a.out kludge", §3.1.3).</summary>
    public const uint FlagAddressFields = 1 << 16;

    /// <summary>Required-feature bits (0–15) we understand; any other one set means we must refuse the image (§3.1.2).</summary>
    public const uint KnownRequiredFlags = FlagPageAlignModules | FlagMemoryInfo | FlagVideoMode;

    public bool HasAddressFields => (Flags & FlagAddressFields) != 0;

    /// <summary>Finds a header with a valid checksum; false when there is none.</summary>
    public static bool TryFind(ReadOnlySpan<byte> image, out MultibootHeader header) =>
        Find(image, out header, out _);

    /// <summary>Finds the header or throws <see cref="BootImageException"/> saying why there is none.</summary>
    public static MultibootHeader Parse(ReadOnlySpan<byte> image)
    {
        if (Find(image, out var header, out int badChecksumAt))
            return header;
        if (badChecksumAt >= 0)
            throw new BootImageException($"multiboot header at offset 0x{badChecksumAt:x} has a bad checksum (magic + flags + checksum must be 0)");
        throw new BootImageException("image has no multiboot header (magic 0x1BADB002, 4-byte aligned, in the first 8 KiB); is it a multiboot kernel?");
    }

    private static bool Find(ReadOnlySpan<byte> image, out MultibootHeader header, out int badChecksumAt)
    {
        header = default;
        badChecksumAt = -1;
        int end = Math.Min(image.Length, SearchLength);
        for (int at = 0; at + 12 <= end; at += 4)
        {
            if (U32(image, at) != Magic) continue;
            uint flags = U32(image, at + 4);
            if (unchecked(Magic + flags + U32(image, at + 8)) != 0)
            {
                if (badChecksumAt < 0) badChecksumAt = at;
                continue;
            }
            // The address fields are part of the header only when flag 16 says so; they may run past 8 KiB but not past the file.
            bool address = (flags & FlagAddressFields) != 0;
            if (address && at + 32 > image.Length)
                throw new BootImageException($"image is truncated: its multiboot header at offset 0x{at:x} ends past the end of the file");
            header = new MultibootHeader(at, flags,
                address ? U32(image, at + 12) : 0, address ? U32(image, at + 16) : 0, address ? U32(image, at + 20) : 0,
                address ? U32(image, at + 24) : 0, address ? U32(image, at + 28) : 0);
            return true;
        }
        return false;
    }

    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
}
