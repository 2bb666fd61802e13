using Iced.Intel;

namespace KvmSharp.Machine.Guests;

/// <summary>
/// Assembles a flat 32-bit multiboot v1 kernel (a.out kludge, Multiboot 0.6.96 §3.1.3): the header
/// followed by code, loaded at <see cref="LoadAddress"/> and entered in flat protected mode with EBX
/// pointing at the multiboot info. Used for the built-in demo guest, tests and benchmarks.
/// </summary>
public static class MultibootFlatImage
{
    public const uint LoadAddress = 0x100000;
    private const uint HeaderSize = 32;
    private const uint Magic = 0x1BADB002;
    /// <summary>Bit 1: memory information wanted; bit 16: the address fields of the header are valid.</summary>
    private const uint Flags = (1 << 1) | (1 << 16);

    /// <summary>Builds the image; <paramref name="body"/> writes code that starts at the entry point.</summary>
    public static byte[] Build(Action<Assembler> body)
    {
        var asm = new Assembler(32);
        body(asm);
        var code = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(code), LoadAddress + HeaderSize);
        uint end = LoadAddress + HeaderSize + (uint)code.Length;

        var image = new byte[HeaderSize + code.Length];
        var header = new BinaryWriter(new MemoryStream(image));
        header.Write(Magic);
        header.Write(Flags);
        header.Write(unchecked(0u - Magic - Flags));
        header.Write(LoadAddress);              // header_addr: where this header lands
        header.Write(LoadAddress);              // load_addr
        header.Write(end);                      // load_end_addr
        header.Write(end);                      // bss_end_addr: no bss
        header.Write(LoadAddress + HeaderSize); // entry_addr
        code.ToArray().CopyTo(image, HeaderSize);
        return image;
    }
}
