namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>Device status bits (virtio 1.2 §2.1).</summary>
public static class VirtioStatus
{
    public const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8, NeedsReset = 64, Failed = 128;
}
