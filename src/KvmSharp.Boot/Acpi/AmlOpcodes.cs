namespace KvmSharp.Boot.Acpi;

/// <summary>The AML opcodes and prefixes the builder emits (ACPI 6.5 §20.2, "AML Grammar Definition").</summary>
internal static class AmlOpcodes
{
    // §20.2.3 Data objects encoding.
    public const byte ZeroOp = 0x00;
    public const byte OneOp = 0x01;
    public const byte OnesOp = 0xFF;
    public const byte BytePrefix = 0x0A;
    public const byte WordPrefix = 0x0B;
    public const byte DWordPrefix = 0x0C;
    public const byte StringPrefix = 0x0D;
    public const byte QWordPrefix = 0x0E;

    // §20.2.2 Name objects encoding.
    public const byte NullName = 0x00;
    public const byte DualNamePrefix = 0x2E;
    public const byte MultiNamePrefix = 0x2F;
    public const byte RootChar = 0x5C;
    public const byte ParentPrefixChar = 0x5E;

    // §20.2.5 Term objects encoding.
    public const byte NameOp = 0x08;
    public const byte ScopeOp = 0x10;
    public const byte BufferOp = 0x11;
    public const byte PackageOp = 0x12;
    public const byte MethodOp = 0x14;
    public const byte ReturnOp = 0xA4;
    public const byte ExtOpPrefix = 0x5B;
    public const byte DeviceOp = 0x82; // after ExtOpPrefix
}
