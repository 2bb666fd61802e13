namespace KvmSharp.Devices.Pci;

/// <summary>
/// Where message-signalled interrupts go: the platform turns the address/data pair into an interrupt
/// (on x86 the 0xFEExxxxx address window, SDM vol 3 §11.11). On KVM this is KVM_SIGNAL_MSI or an irqfd;
/// on the software CPU, its LAPICs. Must not allocate; may be called from any thread.
/// </summary>
public interface IMsiSink
{
    void Deliver(ulong address, uint data);
}
