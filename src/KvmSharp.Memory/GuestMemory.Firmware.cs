namespace KvmSharp.Memory;

/// <summary>
/// The firmware's flash: a region that ends at 4 GiB (where the reset vector is, Intel SDM vol 3 §9.1.4) holding the
/// firmware image. It is mapped for the vCPUs like RAM (read-only on KVM) but is not RAM: it is not in
/// <see cref="Regions"/>, so devices cannot DMA into it and snapshots and migrations leave it out (the machine's
/// config names the image, which the restoring side loads again, as a PC's flash chip is not part of its memory).
/// </summary>
public sealed partial class GuestMemory
{
    private GuestRegion? _firmware;

    /// <summary>The flash region, or null when the machine boots without firmware.</summary>
    public GuestRegion? Firmware => _firmware;

    /// <summary>RAM and, last, the flash: every range the vCPUs reach as memory.</summary>
    public IReadOnlyList<GuestRegion> MappedRegions => _firmware is null ? _regions : [.. _regions, _firmware];

    /// <summary>Maps <paramref name="image"/> so that it ends at 4 GiB. Once, before any vCPU exists.</summary>
    public void MapFirmware(ReadOnlySpan<byte> image)
    {
        if (_firmware is not null) throw new InvalidOperationException("the firmware is mapped already");
        if (image.Length == 0 || image.Length % (int)MemoryMap.PageSize != 0 || (ulong)image.Length > MemoryMap.FirmwareMaxSize)
            throw new ArgumentException($"a firmware image is a multiple of 4 KiB and at most {MemoryMap.FirmwareMaxSize >> 20} MiB; this one has {image.Length} bytes", nameof(image));
        var region = new GuestRegion(new GuestAddress(MemoryMap.PciHoleEnd - (ulong)image.Length), (ulong)image.Length);
        image.CopyTo(region.SpanAt(region.Start.Value, image.Length));
        _firmware = region;
    }
}
