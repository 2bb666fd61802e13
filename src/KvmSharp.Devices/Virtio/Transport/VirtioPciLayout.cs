using KvmSharp.Devices.Pci;

namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>
/// Where the virtio structures live in a modern virtio-pci function (virtio 1.2 §4.1.4): all in BAR 0, a
/// 64-bit memory BAR, one 4 KiB page each so a guest maps them separately: common configuration, ISR
/// status, device configuration, notifications (one 4-byte doorbell per queue: notify_off_multiplier 4,
/// queue_notify_off = queue index), then the MSI-X table and PBA (PCI 3.0 §6.8.2).
/// </summary>
public static class VirtioPciLayout
{
    public const int Bar = 0;
    public const ulong BarSize = 0x8000;

    public const uint CommonOffset = 0x0000, CommonLength = 0x38;
    public const uint IsrOffset = 0x1000, IsrLength = 1;
    public const uint DeviceOffset = 0x2000, DeviceLength = 0x1000;
    public const uint NotifyOffset = 0x3000, NotifyLength = 0x1000;
    public const uint NotifyOffMultiplier = 4;
    public const uint MsixTableOffset = 0x4000, MsixPbaOffset = 0x6000;

    /// <summary>At most this many queues fit the notify page at 4 bytes each.</summary>
    public const int MaxQueues = (int)(NotifyLength / NotifyOffMultiplier);

    // virtio_pci_cap cfg_type values (§4.1.4).
    public const byte CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4, PciCfg = 5;

    /// <summary>Red Hat's virtio vendor ID and the modern device ID base (§4.1.2.1).</summary>
    public const ushort VendorId = 0x1AF4;
    public const ushort DeviceIdBase = 0x1040;

    /// <summary>A PCI class per device type, as Linux and QEMU present them (PCI code and ID assignment spec §D).</summary>
    public static uint ClassCode(VirtioDeviceType type) => type switch
    {
        VirtioDeviceType.Block => 0x01_00_00,   // mass storage, SCSI (QEMU's choice for virtio-blk)
        VirtioDeviceType.Net => 0x02_00_00,     // network, Ethernet
        VirtioDeviceType.Console => 0x07_80_00, // communication, other
        _ => 0xFF_00_00,                        // unassigned class
    };

    /// <summary>Declares BAR 0 and the five vendor capabilities of §4.1.4 in <paramref name="config"/>.</summary>
    public static void Declare(PciConfigSpace config, int deviceConfigLength)
    {
        config.DefineBar(Bar, PciBarKind.Memory64, BarSize);
        AddCapability(config, CommonCfg, CommonOffset, CommonLength);
        AddCapability(config, NotifyCfg, NotifyOffset, NotifyLength, NotifyOffMultiplier);
        AddCapability(config, IsrCfg, IsrOffset, IsrLength);
        if (deviceConfigLength > 0)
            AddCapability(config, DeviceCfg, DeviceOffset, (uint)deviceConfigLength);
    }

    /// <summary>
    /// struct virtio_pci_cap (§4.1.4): cap_vndr 0x09, cap_next, cap_len, cfg_type, bar, id, padding[2],
    /// offset le32, length le32; the notify capability adds notify_off_multiplier le32 (§4.1.4.4).
    /// </summary>
    private static void AddCapability(PciConfigSpace config, byte type, uint offset, uint length, uint? multiplier = null)
    {
        int capLength = multiplier is null ? 16 : 20;
        int at = config.AddCapability(0x09, capLength);
        Span<byte> body = stackalloc byte[capLength - 2];
        body[0] = (byte)capLength;
        body[1] = type;
        body[2] = Bar;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body[6..], offset);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body[10..], length);
        if (multiplier is { } m) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(body[14..], m);
        config.SetBytes(at + 2, body);
    }
}
