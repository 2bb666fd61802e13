namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>
/// The driver broke the split-virtqueue rules (virtio 1.2 §2.7): a malformed ring, index or descriptor chain.
/// Guest input, never a host bug: the device answers by setting DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2) and
/// stops using the queue until the driver resets it.
/// </summary>
public sealed class VirtQueueException(string message) : Exception(message);
