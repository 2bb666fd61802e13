using System.Buffers.Binary;

namespace KvmSharp.Tests.Boot;

/// <summary>Synthetic kernels built byte by byte for the loader tests.</summary>
internal static class BootTestImages
{
    public const uint MultibootMagic = 0x1BADB002;

    /// <summary>A flat multiboot binary with address fields: header at file offset 0x40, loaded at <paramref name="load"/>.</summary>
    public static byte[] AoutKernel(uint load = 0x100000, int codeLength = 0x200, uint bss = 0x1000, uint flags = 0x0001_0003,
        uint? loadEnd = null, uint? entry = null)
    {
        var image = new byte[0x40 + codeLength];
        for (int i = 0x60; i < image.Length; i++) image[i] = (byte)(i * 7);
        uint headerAddr = load + 0x40;
        uint end = loadEnd ?? load + (uint)image.Length;
        WriteMultibootHeader(image, 0x40, flags);
        Span<byte> h = image.AsSpan(0x40);
        U32(h, 12, headerAddr);
        U32(h, 16, load);
        U32(h, 20, end);
        U32(h, 24, end + bss);
        U32(h, 28, entry ?? load + 0x60);
        return image;
    }

    public static void WriteMultibootHeader(Span<byte> image, int at, uint flags)
    {
        U32(image, at, MultibootMagic);
        U32(image, at + 4, flags);
        U32(image, at + 8, unchecked(0u - MultibootMagic - flags));
    }

    /// <summary>
    /// An ELF executable with one PT_LOAD segment: <paramref name="fileBytes"/> from the file at
    /// <paramref name="paddr"/> (virtual address <paramref name="vaddr"/>), memsz = fileBytes + bss.
    /// A multiboot header (flags 0x3) sits in the segment data.
    /// </summary>
    public static byte[] ElfKernel(bool is64, ulong vaddr, ulong paddr, int fileBytes = 0x300, ulong bss = 0x2000, ulong? entry = null)
    {
        int ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;
        int dataOffset = 0x100;
        var image = new byte[dataOffset + fileBytes];
        image[0] = 0x7F; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F';
        image[4] = is64 ? (byte)2 : (byte)1;
        image[5] = 1; image[6] = 1;
        U16(image, 16, 2);
        U16(image, 18, is64 ? (ushort)62 : (ushort)3);
        ulong e = entry ?? vaddr + 0x10;
        if (is64)
        {
            U64(image, 24, e); U64(image, 32, (ulong)ehsize); U16(image, 52, (ushort)ehsize);
            U16(image, 54, (ushort)phsize); U16(image, 56, 1);
            Span<byte> ph = image.AsSpan(ehsize);
            U32(ph, 0, 1); U32(ph, 4, 5); U64(ph, 8, (ulong)dataOffset); U64(ph, 16, vaddr); U64(ph, 24, paddr);
            U64(ph, 32, (ulong)fileBytes); U64(ph, 40, (ulong)fileBytes + bss); U64(ph, 48, 0x1000);
        }
        else
        {
            U32(image, 24, (uint)e); U32(image, 28, (uint)ehsize); U16(image, 40, (ushort)ehsize);
            U16(image, 42, (ushort)phsize); U16(image, 44, 1);
            Span<byte> ph = image.AsSpan(ehsize);
            U32(ph, 0, 1); U32(ph, 4, (uint)dataOffset); U32(ph, 8, (uint)vaddr); U32(ph, 12, (uint)paddr);
            U32(ph, 16, (uint)fileBytes); U32(ph, 20, (uint)((ulong)fileBytes + bss)); U32(ph, 24, 5); U32(ph, 28, 0x1000);
        }
        for (int i = dataOffset; i < image.Length; i++) image[i] = (byte)(i ^ 0x5A);
        WriteMultibootHeader(image, dataOffset + 0x20, 0x3);
        return image;
    }

    /// <summary>A minimal bzImage: 4 setup sectors + boot sector, a protocol 2.15 header, and <paramref name="kernelBytes"/> of "kernel".</summary>
    public static byte[] BzImage(int kernelBytes = 0x4000, ushort version = 0x020F, ushort xloadflags = 0x3, uint initSize = 0x80_0000,
        ulong prefAddress = 0x100_0000, byte setupSects = 4)
    {
        int setup = ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
        var image = new byte[setup + kernelBytes];
        image[0x1F1] = setupSects;
        U32(image, 0x1F4, (uint)(kernelBytes / 16));
        U16(image, 0x1FA, 0xFFFF);
        U16(image, 0x1FE, 0xAA55);
        image[0x200] = 0xEB; image[0x201] = 0x6A;
        U32(image, 0x202, 0x53726448);
        U16(image, 0x206, version);
        image[0x211] = 0x01;
        U32(image, 0x214, 0x100000);
        U32(image, 0x22C, 0x7FFF_FFFF);
        U32(image, 0x230, 0x20_0000);
        image[0x234] = 1;
        image[0x235] = 21;
        U16(image, 0x236, xloadflags);
        U32(image, 0x238, 2047);
        U64(image, 0x258, prefAddress);
        U32(image, 0x260, initSize);
        for (int i = setup; i < image.Length; i++) image[i] = (byte)(i * 13);
        return image;
    }

    public static void U16(Span<byte> s, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(s[at..], v);
    public static void U32(Span<byte> s, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], v);
    public static void U64(Span<byte> s, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(s[at..], v);
}
