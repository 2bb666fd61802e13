namespace KvmSharp.Devices.Firmware;

/// <summary>
/// The fw_cfg device's saved state: where the guest's reading stands (selected item, offset in it, the DMA address
/// register's high half), and the contents of the items the guest may write (the others come from the machine's config).
/// </summary>
public sealed record FwCfgState
{
    public ushort Selector { get; init; }
    public uint Offset { get; init; }
    public uint DmaAddressHigh { get; init; }
    public IReadOnlyList<FwCfgWrittenItem> WritableItems { get; init; } = [];
}

/// <summary>A guest-writable item's key and its contents when the state was saved.</summary>
public sealed record FwCfgWrittenItem(ushort Key, byte[] Data);
