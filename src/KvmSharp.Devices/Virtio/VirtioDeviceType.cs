namespace KvmSharp.Devices.Virtio;

/// <summary>Virtio device IDs (virtio 1.2 §5); the PCI device ID is 0x1040 plus this (§4.1.2.1).</summary>
public enum VirtioDeviceType : ushort
{
    Net = 1,
    Block = 2,
    Console = 3,
    Entropy = 4,
    Balloon = 5,
    Vsock = 19,
    FileSystem = 26,
}
