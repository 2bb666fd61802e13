using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Memory;
using KvmSharp.Storage;
using KvmSharp.Tests.Storage;
using static KvmSharp.Tests.Devices.Virtio.Block.BlockDeviceHarness;

namespace KvmSharp.Tests.Devices.Virtio.Block;

/// <summary>virtio-blk requests (virtio 1.2 §5.2.6) through a real queue in guest memory, on raw and qcow2 images.</summary>
public sealed class VirtioBlockDeviceTests : IDisposable
{
    private const int DiskSize = 1 << 20;
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private string RawDisk(byte[]? contents = null)
    {
        string path = _scratch.PathOf($"disk-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(path, contents ?? new byte[DiskSize]);
        return path;
    }

    private static BlockDeviceHarness Open(string path, bool readOnly = false, string? serial = null, string? format = null) =>
        new(VirtioBlockDevice.Open(path, format, readOnly, serial, _ => { }));

    [Fact]
    public void WritesReachTheRawFileAndReadBack()
    {
        string path = RawDisk();
        var data = StorageScratch.Pattern(8 * 512, 3);
        using (var h = Open(path))
        {
            Assert.Equal(Ok, h.Write(3, data));
            Assert.Equal(data, h.Read(3, data.Length));
            Assert.Equal(Ok, h.Request(Flush, 0).Status);
        }
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(3 * 512, data.Length).ToArray());
    }

    [Fact]
    public void Qcow2WritesReadBackAndPassQemuCheck()
    {
        string path = _scratch.PathOf("disk.qcow2");
        Qcow2Creator.Create(path, DiskSize, clusterBits: 12);
        var data = StorageScratch.Pattern(20 * 512, 4);
        using (var h = Open(path, format: "qcow2"))
        {
            Assert.Equal(Ok, h.Write(7, data));   // unaligned to clusters: partial-cluster copy-on-write
            Assert.Equal(data, h.Read(7, data.Length));
            Assert.Equal(Ok, h.Request(Flush, 0).Status);
        }
        var expected = new byte[DiskSize];
        data.CopyTo(expected, 7 * 512);
        _scratch.AssertQemuAgrees(path, expected);
    }

    [Fact]
    public void ConfigSpaceFollowsTheLinuxLayout()
    {
        using var h = Open(RawDisk(), serial: "x");
        // Offsets from struct virtio_blk_config in Linux's include/uapi/linux/virtio_blk.h.
        var config = new byte[h.Device.ConfigSize];
        h.Device.ReadConfig(0, config);
        Assert.Equal((ulong)DiskSize / 512, BinaryPrimitives.ReadUInt64LittleEndian(config));
        Assert.Equal(254u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(12)));   // seg_max
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(20)));   // blk_size
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)));  // max_discard_sectors
        Assert.Equal(256u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(40)));   // max_discard_seg
        Assert.Equal(256u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(52)));   // max_write_zeroes_seg
        Assert.Equal(1, config[56]);                                                      // write_zeroes_may_unmap
        // Feature bits from the same header: SEG_MAX 2, BLK_SIZE 6, FLUSH 9, DISCARD 13, WRITE_ZEROES 14; not RO 5.
        Assert.Equal((1UL << 2) | (1UL << 6) | (1UL << 9) | (1UL << 13) | (1UL << 14), h.Device.DeviceFeatures);
    }

    [Fact]
    public void GetIdPadsShortSerialsAndFillsAllTwentyBytesOtherwise()
    {
        using (var h = Open(RawDisk(), serial: "disk-7"))
        {
            var id = Enumerable.Repeat((byte)0xAA, 20).ToArray();
            var (status, used) = h.Request(GetId, 0, inData: id);
            Assert.Equal(Ok, status);
            Assert.Equal(21u, used);
            Assert.Equal("disk-7"u8.ToArray().Concat(new byte[14]), id);
        }
        using (var h = Open(RawDisk(), serial: "ABCDEFGHIJKLMNOPQRST"))
        {
            var id = new byte[20];
            Assert.Equal(Ok, h.Request(GetId, 0, inData: id).Status);
            Assert.Equal("ABCDEFGHIJKLMNOPQRST"u8.ToArray(), id);
        }
    }

    [Fact]
    public void SerialsLongerThanTwentyBytesAreRefused() =>
        Assert.Throws<ArgumentException>(() => VirtioBlockDevice.Open(RawDisk(), "raw", false, "ABCDEFGHIJKLMNOPQRSTU", _ => { }));

    [Fact]
    public void WriteZeroesAndDiscardClearSectors()
    {
        var contents = StorageScratch.Pattern(DiskSize, 5);
        contents.AsSpan().Replace((byte)0, (byte)1);   // no zero bytes, so a cleared range shows
        using var h = Open(RawDisk(contents));
        Assert.Equal(Ok, h.Ranges(WriteZeroes, (8, 16, 0), (100, 1, 1)));   // without and with UNMAP
        Assert.Equal(new byte[16 * 512], h.Read(8, 16 * 512));
        Assert.Equal(new byte[512], h.Read(100, 512));
        Assert.Equal(contents.AsSpan(24 * 512, 512).ToArray(), h.Read(24, 512));
        Assert.Equal(Ok, h.Ranges(Discard, (200, 8, 0)));
        // Discarded data may read back as anything (§5.2.6); the sectors around it must not change.
        Assert.Equal(contents.AsSpan(208 * 512, 512).ToArray(), h.Read(208, 512));
    }

    [Fact]
    public void BadRangeListsAreRefusedAndChangeNothing()
    {
        var contents = Enumerable.Repeat((byte)7, DiskSize).ToArray();
        using var h = Open(RawDisk(contents));
        Assert.Equal(IoError, h.Ranges(WriteZeroes, (0, 8, 0), (DiskSize / 512 - 1, 2, 0)));   // second runs past the end
        Assert.Equal(Unsupported, h.Ranges(Discard, (0, 8, 1)));                               // UNMAP is not a discard flag
        Assert.Equal(IoError, h.Ranges(Discard));                                              // no segments
        Assert.Equal(contents.AsSpan(0, 8 * 512).ToArray(), h.Read(0, 8 * 512));
    }

    [Fact]
    public void ReadOnlyDisksRefuseEveryChange()
    {
        var contents = Enumerable.Repeat((byte)9, DiskSize).ToArray();
        string path = RawDisk(contents);
        using var h = Open(path, readOnly: true);
        Assert.True((h.Device.DeviceFeatures & (1UL << 5)) != 0, "VIRTIO_BLK_F_RO is offered");
        Assert.Equal(IoError, h.Write(0, new byte[512]));
        Assert.Equal(IoError, h.Ranges(WriteZeroes, (0, 1, 0)));
        Assert.Equal(IoError, h.Ranges(Discard, (0, 1, 0)));
        Assert.Equal(contents.AsSpan(0, 512).ToArray(), h.Read(0, 512));
        Assert.Equal(contents, File.ReadAllBytes(path));
    }

    [Fact]
    public void RequestsPastTheEndOrNotWholeSectorsAreIoErrors()
    {
        using var h = Open(RawDisk());
        const ulong sectors = DiskSize / 512;
        Assert.Equal(IoError, h.Request(In, sectors, inData: new byte[512]).Status);
        Assert.Equal(IoError, h.Request(In, sectors - 1, inData: new byte[1024]).Status);
        Assert.Equal(IoError, h.Request(Out, ulong.MaxValue, outData: new byte[512]).Status);
        Assert.Equal(IoError, h.Request(Out, 0, outData: new byte[100]).Status);
        Assert.Equal(IoError, h.Request(In, 0, inData: new byte[513]).Status);
        Assert.Equal(Ok, h.Request(In, sectors - 1, inData: new byte[512]).Status);
    }

    [Fact]
    public void UnknownTypesAreUnsupported()
    {
        using var h = Open(RawDisk());
        Assert.Equal(Unsupported, h.Request(99, 0).Status);
        Assert.Equal(Unsupported, h.Request(10, 0, inData: new byte[8]).Status);   // GET_LIFETIME: not offered
    }

    [Fact]
    public void HeadersMaySplitAcrossDescriptorsAndShareOneWithData()
    {
        // virtio 1.2 §2.6.4: the device must not assume the driver's framing.
        var data = StorageScratch.Pattern(1024, 6);
        using var h = Open(RawDisk());
        ushort head = h.Driver.AddChain(out var at, (5, false), (11 + 1024, false), (1, true));
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Out);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 2);
        h.Memory.Write(new GuestAddress(at[0]), header.AsSpan(0, 5));
        h.Memory.Write(new GuestAddress(at[1]), header.AsSpan(5));
        h.Memory.Write(new GuestAddress(at[1] + 11), data);
        h.Kick(head);
        Assert.Equal(Ok, h.Memory.Read<byte>(new GuestAddress(at[2])));
        // Data and status in one writable buffer.
        head = h.Driver.AddChain(out at, (16, false), (1025, true));
        h.WriteHeader(at[0], In, 2);
        h.Kick(head);
        Assert.Equal(Ok, h.Memory.Read<byte>(new GuestAddress(at[1] + 1024)));
        var back = new byte[1024];
        h.Memory.Read(new GuestAddress(at[1]), back);
        Assert.Equal(data, back);
        Assert.Equal(1025u, h.Driver.UsedElement(1).Length);
    }

    [Fact]
    public void ATruncatedHeaderIsAnIoError()
    {
        using var h = Open(RawDisk());
        ushort head = h.Driver.AddChain(out var at, (8, false), (1, true));
        h.Kick(head);
        Assert.Null(h.Interrupts.NeedsResetReason);
        Assert.Equal(IoError, h.Memory.Read<byte>(new GuestAddress(at[1])));
    }

    [Fact]
    public void AHeaderInAWritableBufferIsAnIoError()
    {
        using var h = Open(RawDisk());
        ushort head = h.Driver.AddChain(out var at, (16, true), (1, true));
        h.WriteHeader(at[0], Out, 0);
        h.Kick(head);
        Assert.Null(h.Interrupts.NeedsResetReason);
        Assert.Equal(IoError, h.Memory.Read<byte>(new GuestAddress(at[1])));
    }

    [Fact]
    public void AChainWithoutAStatusByteMarksTheDeviceBroken()
    {
        using var h = Open(RawDisk());
        ushort head = h.Driver.AddChain(out var at, (16, false), (512, false));
        h.WriteHeader(at[0], Out, 0);
        h.Kick(head);
        Assert.NotNull(h.Interrupts.NeedsResetReason);
        // Broken until reset: a good request after it is not served.
        Assert.Equal(0, h.Driver.UsedIdx);
    }

    [Fact]
    public void AMalformedQueueMarksTheDeviceBroken()
    {
        using var h = Open(RawDisk());
        h.Driver.SetDescriptor(0, 0x20_0000, 16, MockVirtqDriver.Flags.Next, next: 0);   // a loop
        h.Kick(0);
        Assert.Contains("loop", h.Interrupts.NeedsResetReason);
    }

    [Fact]
    public void AWritableImageIsLockedAgainstASecondOpen()
    {
        string path = RawDisk();
        using var first = VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { });
        var e = Assert.Throws<ImageFormatException>(() => VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { }));
        Assert.Contains(path, e.Message);
        Assert.Throws<ImageFormatException>(() => VirtioBlockDevice.Open(path, "raw", readOnly: true, null, _ => { }));
    }

    [Fact]
    public void AQcow2ImageNamedAsRawIsRefused()
    {
        string path = _scratch.PathOf("named-raw.qcow2");
        Qcow2Creator.Create(path, DiskSize);
        var e = Assert.Throws<ImageFormatException>(() => VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { }));
        Assert.Contains("use format=qcow2", e.Message);
        Assert.Throws<ImageFormatException>(() => VirtioBlockDevice.Open(RawDisk(), "qcow2", readOnly: false, null, _ => { }));
        using var probed = VirtioBlockDevice.Open(path, null, readOnly: true, null, _ => { });
        Assert.Equal((ulong)DiskSize, ReadCapacity(probed) * 512);
    }

    private static ulong ReadCapacity(VirtioBlockDevice device)
    {
        var capacity = new byte[8];
        device.ReadConfig(0, capacity);
        return BinaryPrimitives.ReadUInt64LittleEndian(capacity);
    }

    [Fact]
    public void RequestsMadeBeforeActivationAreServed()
    {
        using var disk = VirtioBlockDevice.Open(RawDisk(), "raw", false, null, _ => { });
        using var driver = new MockVirtqDriver(QueueSize, ramSize: 4 << 20);
        driver.Enable();
        ushort head = driver.AddChain(out var at, (16, false), (1, true));
        driver.Memory.Write(new GuestAddress(at[0]), Flush);
        driver.Publish(head);
        var interrupts = new RecordingInterrupts();
        using var notifier = new KvmSharp.Native.Libc.EventNotifier();
        disk.Activate(new KvmSharp.Devices.Virtio.VirtioActivation(driver.Memory, disk.DeviceFeatures, [driver.Queue], [notifier], interrupts));
        interrupts.Wait();
        disk.Reset();
        Assert.Equal(1, driver.UsedIdx);
        Assert.Equal(Ok, driver.Memory.Read<byte>(new GuestAddress(at[1])));
    }
}
