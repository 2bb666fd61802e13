namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>What a read of a width the chip does not answer returns: the undriven ISA data lines, all ones.</summary>
internal static class FloatingBus
{
    public static uint Read(int size) => size is > 0 and < 4 ? (1u << (size * 8)) - 1 : uint.MaxValue;
}
