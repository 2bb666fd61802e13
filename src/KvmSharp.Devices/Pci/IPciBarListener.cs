namespace KvmSharp.Devices.Pci;

/// <summary>
/// A PCI function that wants to know where its BARs are decoded, for work outside the bus's own
/// dispatch (say, asking the accelerator to catch doorbell writes in the kernel). The bus calls it under
/// its configuration lock after each change: <paramref name="baseAddress"/> null means no longer decoded.
/// </summary>
public interface IPciBarListener
{
    void BarMoved(int bar, ulong? baseAddress);
}
