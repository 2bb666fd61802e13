namespace KvmSharp.Devices.Legacy;

/// <summary>
/// Where a PC serial port lives: its number (COM1 is 1; the ACPI _UID), its 8-port I/O base and its
/// ISA IRQ. The four standard assignments are <see cref="Serial16550.ComPorts"/>.
/// </summary>
public readonly record struct ComPort(int Number, ushort PortBase, byte Irq)
{
    public override string ToString() => $"COM{Number} (0x{PortBase:x3}, IRQ {Irq})";
}
