namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>The fields of struct virtio_pci_common_cfg (virtio 1.2 §4.1.4.3), by offset; their widths are in <see cref="CommonConfigFields"/>.</summary>
public enum CommonConfigRegister
{
    DeviceFeatureSelect = 0x00,
    DeviceFeature = 0x04,
    DriverFeatureSelect = 0x08,
    DriverFeature = 0x0C,
    ConfigMsixVector = 0x10,
    NumQueues = 0x12,
    DeviceStatus = 0x14,
    ConfigGeneration = 0x15,
    QueueSelect = 0x16,
    QueueSize = 0x18,
    QueueMsixVector = 0x1A,
    QueueEnable = 0x1C,
    QueueNotifyOff = 0x1E,
    QueueDesc = 0x20,
    QueueDriver = 0x28,
    QueueDevice = 0x30,
}

/// <summary>Maps a guest access in the common configuration to the field it names.</summary>
public static class CommonConfigFields
{
    /// <summary>
    /// The field an access of <paramref name="length"/> bytes at <paramref name="offset"/> reaches, and which
    /// 32-bit half for a 64-bit field (§4.1.3.1: a driver may write 64-bit fields as two 32-bit halves).
    /// False for any other size or alignment: the access reads as zero and writes are dropped.
    /// </summary>
    public static bool TryDecode(ulong offset, int length, out CommonConfigRegister field, out bool upperHalf)
    {
        upperHalf = false;
        field = default;
        if (offset >= VirtioPciLayout.CommonLength) return false;
        if (offset >= (ulong)CommonConfigRegister.QueueDesc)
        {
            ulong rel = offset - (ulong)CommonConfigRegister.QueueDesc;
            field = (CommonConfigRegister)((ulong)CommonConfigRegister.QueueDesc + rel / 8 * 8);
            upperHalf = rel % 8 == 4;
            return (rel % 8 == 0 && length is 8 or 4) || (upperHalf && length == 4);
        }
        field = (CommonConfigRegister)offset;
        int width = field switch
        {
            CommonConfigRegister.DeviceFeatureSelect or CommonConfigRegister.DeviceFeature
                or CommonConfigRegister.DriverFeatureSelect or CommonConfigRegister.DriverFeature => 4,
            CommonConfigRegister.DeviceStatus or CommonConfigRegister.ConfigGeneration => 1,
            CommonConfigRegister.ConfigMsixVector or CommonConfigRegister.NumQueues or CommonConfigRegister.QueueSelect
                or CommonConfigRegister.QueueSize or CommonConfigRegister.QueueMsixVector or CommonConfigRegister.QueueEnable
                or CommonConfigRegister.QueueNotifyOff => 2,
            _ => 0,
        };
        return width != 0 && width == length;
    }
}
