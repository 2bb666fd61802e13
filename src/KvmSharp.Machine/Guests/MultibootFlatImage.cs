using Iced.Intel;

namespace KvmSharp.Machine.Guests;

/// <summary>
/// Assembles a flat 32-bit multiboot v1 kernel (a.out kludge, Multiboot 0.6.96 §3.1.3): the header
/// followed by code, loaded at <see cref="LoadAddress"/> and entered in flat protected mode with EBX
/// pointing at the multiboot info. Constant data (strings) goes to a data area at <see cref="DataAddress"/>,
/// whose addresses the code uses as immediates (32-bit code has no RIP-relative addressing).
/// Used for the built-in demo guest, tests and benchmarks.
/// </summary>
public static class MultibootFlatImage
{
    public const uint LoadAddress = 0x100000;
    public const uint DataAddress = LoadAddress + MaxCodeSize;
    private const uint MaxCodeSize = 0x10000;
    private const uint HeaderSize = 32;
    private const uint Magic = 0x1BADB002;
    /// <summary>Bit 1: memory information wanted; bit 16: the address fields of the header are valid.</summary>
    private const uint Flags = (1 << 1) | (1 << 16);

    /// <summary>Constant data placed after the code; <see cref="Add"/> returns the guest address of what it placed.</summary>
    public sealed class DataArea
    {
        private readonly MemoryStream _bytes = new();

        /// <summary>The address the next <see cref="Add"/> places its bytes at (to assemble code that will live there).</summary>
        public uint NextAddress => DataAddress + (uint)_bytes.Length;

        public uint Add(ReadOnlySpan<byte> bytes)
        {
            uint address = DataAddress + (uint)_bytes.Length;
            _bytes.Write(bytes);
            return address;
        }

        /// <summary>Places a NUL-terminated ASCII string.</summary>
        public uint AddString(string text) => Add([.. System.Text.Encoding.ASCII.GetBytes(text), 0]);

        internal byte[] ToArray() => _bytes.ToArray();
    }

    /// <summary>Builds the image; <paramref name="body"/> writes code that starts at the entry point.</summary>
    public static byte[] Build(Action<Assembler> body) => Build((a, _) => body(a));

    public static byte[] Build(Action<Assembler, DataArea> body)
    {
        var asm = new Assembler(32);
        var data = new DataArea();
        body(asm, data);
        var code = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(code), LoadAddress + HeaderSize);
        if (HeaderSize + code.Length > MaxCodeSize)
            throw new InvalidOperationException($"tiny guest code is {code.Length} bytes; at most {MaxCodeSize - HeaderSize} fit before the data area");
        byte[] dataBytes = data.ToArray();
        uint end = DataAddress + (uint)dataBytes.Length;

        var image = new byte[end - LoadAddress];
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
        dataBytes.CopyTo(image, DataAddress - LoadAddress);
        return image;
    }
}
