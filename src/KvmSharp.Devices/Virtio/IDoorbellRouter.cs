using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio;

/// <summary>
/// Lets guest writes to a queue's doorbell signal its notifier without going through a vCPU thread's
/// MMIO exit (KVM_IOEVENTFD). The machine provides it where the accelerator can; without one, the
/// transport signals the notifier itself when the write reaches it.
/// </summary>
public interface IDoorbellRouter
{
    /// <summary>From now on a guest write of <paramref name="length"/> bytes at <paramref name="address"/> signals <paramref name="notifier"/>; false if it cannot.</summary>
    bool TryAttach(ulong address, int length, EventNotifier notifier);

    /// <summary>Undoes <see cref="TryAttach"/> (the BAR moved or decoding was turned off).</summary>
    void Detach(ulong address, int length, EventNotifier notifier);
}
