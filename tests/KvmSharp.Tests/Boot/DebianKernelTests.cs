using KvmSharp.Boot;
using KvmSharp.Boot.Linux;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Boot;

/// <summary>The Linux loader on Debian's real linux-image-*-cloud-amd64 bzImage.</summary>
public class DebianKernelTests(DebianKernelFixture kernel) : IClassFixture<DebianKernelFixture>
{
    private static T Zp<T>(GuestMemory m, int offset) where T : unmanaged => m.Read<T>(new GuestAddress(MemoryMap.ZeroPage + (ulong)offset));

    [Fact]
    public void HeaderIsAModernRelocatable64BitBzImage()
    {
        var image = LinuxLoader.Parse(kernel.Bytes);
        Assert.True(image.Version >= 0x020F, $"protocol 0x{image.Version:x}");
        Assert.True(image.Relocatable);
        Assert.True(image.HasKernel64Entry);
        Assert.True(image.LoadedHigh);
        Assert.True(image.InitSize > 0);
        Assert.True(image.CmdlineSize >= 255);
    }

    [Fact]
    public void LoadFillsBootParams()
    {
        using var memory = GuestMemory.Create(256 << 20);
        var initrd = new byte[3 << 20];
        initrd[0] = 0x1F;
        var state = LinuxLoader.Load(memory, kernel.Bytes, initrd, "console=ttyS0 panic=-1", rsdpAddress: 0xE0000);

        Assert.Equal(0x100200UL, state.Registers.Rip);
        Assert.Equal(MemoryMap.ZeroPage, state.Registers.Rsi);
        Assert.True(Zp<ushort>(memory, 0x206) >= 0x020F);
        Assert.NotEqual(0, Zp<ushort>(memory, 0x236) & 1);
        Assert.Equal((uint)MemoryMap.CommandLine, Zp<uint>(memory, 0x228));
        Assert.Equal((byte)'c', memory.Read<byte>(new GuestAddress(MemoryMap.CommandLine)));
        uint ramdisk = Zp<uint>(memory, 0x218);
        Assert.Equal(3u << 20, Zp<uint>(memory, 0x21C));
        Assert.Equal((256u << 20) - (3u << 20), ramdisk);
        Assert.Equal((byte)0x1F, memory.Read<byte>(new GuestAddress(ramdisk)));
        var image = LinuxLoader.Parse(kernel.Bytes);
        Assert.True(ramdisk >= Math.Max(image.PrefAddress, 0x100000UL) + image.InitSize, "initrd clear of the decompressed kernel");
        Assert.Equal((byte)E820Map.ForRam(256 << 20).Entries.Count, Zp<byte>(memory, 0x1E8));
        Assert.Equal(0xE0000UL, Zp<ulong>(memory, 0x070));
        Assert.Equal((byte)0xFF, Zp<byte>(memory, 0x210));
    }
}
