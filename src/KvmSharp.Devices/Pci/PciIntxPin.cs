namespace KvmSharp.Devices.Pci;

/// <summary>
/// A function's legacy interrupt pin (INTA#–INTD#). The device asserts or deasserts it; the line reaches
/// the interrupt controller only while the command register's Interrupt Disable bit is clear, and
/// status bit 3 reflects the device's request either way (PCI Local Bus spec 3.0 §6.2.2, §6.2.3).
/// Which controller input the pin is wired to is the platform's routing (ACPI _PRT), not ours.
/// </summary>
public sealed class PciIntxPin
{
    private readonly PciConfigSpace _config;
    private readonly IInterruptLine _line;
    private readonly object _lock = new();
    private bool _asserted;
    private bool _lineHigh;

    /// <param name="pin">1–4 for INTA#–INTD#; written to the read-only interrupt pin register.</param>
    public PciIntxPin(PciConfigSpace config, IInterruptLine line, byte pin = 1)
    {
        if (pin is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(pin));
        _config = config;
        _line = line;
        config.InterruptPin = pin;
    }

    public void SetLevel(bool asserted)
    {
        lock (_lock)
        {
            _asserted = asserted;
            _config.SetInterruptStatus(asserted);
            Update();
        }
    }

    /// <summary>The owner calls this from <see cref="IPciDevice.ConfigWritten"/> so a change of Interrupt Disable takes effect.</summary>
    public void CommandChanged()
    {
        lock (_lock) Update();
    }

    private void Update()
    {
        bool high = _asserted && (_config.Command & PciConfigSpace.CommandInterruptDisable) == 0;
        if (high == _lineHigh) return;
        _lineHigh = high;
        _line.SetLevel(high);
    }
}
