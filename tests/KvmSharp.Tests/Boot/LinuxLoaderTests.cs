using System.Text;
using KvmSharp.Boot;
using KvmSharp.Boot.Linux;
using KvmSharp.Memory;
using static KvmSharp.Tests.Boot.BootTestImages;

namespace KvmSharp.Tests.Boot;

public class LinuxLoaderTests
{
    private static T Zp<T>(GuestMemory m, int offset) where T : unmanaged => m.Read<T>(new GuestAddress(MemoryMap.ZeroPage + (ulong)offset));

    [Fact]
    public void ParseExposesTheSetupHeader()
    {
        var image = LinuxLoader.Parse(BzImage(setupSects: 0));
        Assert.Equal(0x020F, image.Version);
        Assert.Equal(0, image.SetupSects);
        Assert.Equal(5 * 512, image.SetupSize);
        Assert.Equal(0x4000, image.KernelSize);
        Assert.True(image.Relocatable);
        Assert.True(image.LoadedHigh);
        Assert.True(image.HasKernel64Entry);
        Assert.Equal(0x20_0000u, image.KernelAlignment);
        Assert.Equal(0x7FFF_FFFFu, image.InitrdAddrMax);
        Assert.Equal(2047u, image.CmdlineSize);
        Assert.Equal(0x100_0000UL, image.PrefAddress);
        Assert.Equal(0x80_0000u, image.InitSize);
        Assert.Equal(0x26C, image.HeaderEnd);
    }

    [Fact]
    public void LoadWritesKernelZeroPageCommandLineAndInitrd()
    {
        using var memory = GuestMemory.Create(64 << 20);
        var bz = BzImage();
        var initrd = Enumerable.Range(0, 10000).Select(i => (byte)i).ToArray();

        var state = LinuxLoader.Load(memory, bz, initrd, "console=ttyS0 root=/dev/vda", rsdpAddress: 0xE0000);

        var kernel = new byte[0x4000];
        memory.Read(new GuestAddress(0x100000), kernel);
        Assert.Equal(bz.AsSpan(5 * 512).ToArray(), kernel);
        Assert.Equal(0x100200UL, state.Registers.Rip);
        Assert.Equal(MemoryMap.ZeroPage, state.Registers.Rsi);
        Assert.Equal(0UL, state.Registers.Rflags & 0x200);
        Assert.Equal((ushort)0x10, state.SpecialRegisters.Cs.Selector);

        Assert.Equal(0x53726448u, Zp<uint>(memory, 0x202));
        Assert.Equal((ushort)0xFFFF, Zp<ushort>(memory, 0x1FA)); // copied from the file
        Assert.Equal((byte)0xFF, Zp<byte>(memory, 0x210));
        Assert.Equal((byte)0x81, Zp<byte>(memory, 0x211));
        Assert.Equal((ushort)0xFE00, Zp<ushort>(memory, 0x224));
        Assert.Equal((uint)MemoryMap.CommandLine, Zp<uint>(memory, 0x228));
        Assert.Equal(0u, Zp<uint>(memory, 0x0C8));
        var cmdline = new byte[29];
        memory.Read(new GuestAddress(MemoryMap.CommandLine), cmdline);
        Assert.Equal("console=ttyS0 root=/dev/vda\0", Encoding.ASCII.GetString(cmdline, 0, 28));
        Assert.Equal(0xE0000UL, Zp<ulong>(memory, 0x070));

        uint ramdisk = Zp<uint>(memory, 0x218);
        Assert.Equal(10000u, Zp<uint>(memory, 0x21C));
        Assert.Equal(0u, ramdisk % 4096);
        Assert.True(ramdisk + 10000 <= 64 << 20 && ramdisk + 10000 + 4096 > 64 << 20, "initrd is as high as possible");
        Assert.Equal((byte)123, memory.Read<byte>(new GuestAddress(ramdisk + 123UL)));

        var e820 = E820Map.ForRam(64 << 20).Entries;
        Assert.Equal((byte)e820.Count, Zp<byte>(memory, 0x1E8));
        for (int i = 0; i < e820.Count; i++)
        {
            Assert.Equal(e820[i].Address, Zp<ulong>(memory, 0x2D0 + i * 20));
            Assert.Equal(e820[i].Size, Zp<ulong>(memory, 0x2D0 + i * 20 + 8));
            Assert.Equal((uint)e820[i].Type, Zp<uint>(memory, 0x2D0 + i * 20 + 16));
        }
    }

    [Fact]
    public void InitrdStaysBelowInitrdAddrMax()
    {
        using var memory = GuestMemory.Create(64 << 20);
        var bz = BzImage();
        U32(bz, 0x22C, (32 << 20) - 1);
        LinuxLoader.Load(memory, bz, new byte[5000], "", 0);
        uint ramdisk = Zp<uint>(memory, 0x218);
        Assert.Equal((32u << 20) - 8192, ramdisk);
    }

    [Fact]
    public void NotABzImageIsRejected()
    {
        Assert.Contains("too short", Assert.Throws<BootImageException>(() => LinuxLoader.Parse(new byte[100])).Message);
        var elf = new byte[0x1000];
        elf[0] = 0x7F;
        Assert.Contains("no Linux boot header", Assert.Throws<BootImageException>(() => LinuxLoader.Parse(elf)).Message);
    }

    [Fact]
    public void OldProtocolIsRejected()
    {
        var e = Assert.Throws<BootImageException>(() => LinuxLoader.Parse(BzImage(version: 0x0204)));
        Assert.Contains("2.04", e.Message);
    }

    [Fact]
    public void KernelWithout64BitEntryIsRejectedAtLoad()
    {
        using var memory = GuestMemory.Create(64 << 20);
        var e = Assert.Throws<BootImageException>(() => LinuxLoader.Load(memory, BzImage(xloadflags: 0), [], "", 0));
        Assert.Contains("XLF_KERNEL_64", e.Message);
    }

    [Fact]
    public void HeaderInconsistentWithFileSizeIsRejected()
    {
        var bz = BzImage();
        U32(bz, 0x1F4, 0x1000_0000); // syssize far beyond the file
        Assert.Contains("truncated", Assert.Throws<BootImageException>(() => LinuxLoader.Parse(bz)).Message);
        bz = BzImage();
        bz[0x1F1] = 200; // setup larger than the file
        Assert.Contains("truncated", Assert.Throws<BootImageException>(() => LinuxLoader.Parse(bz)).Message);
    }

    [Fact]
    public void KernelThatDoesNotFitInRamIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var e = Assert.Throws<BootImageException>(() => LinuxLoader.Load(memory, BzImage(), [], "", 0));
        Assert.Contains("more memory", e.Message);
    }

    [Fact]
    public void InitrdThatDoesNotFitIsRejected()
    {
        using var memory = GuestMemory.Create(32 << 20);
        var e = Assert.Throws<BootImageException>(() => LinuxLoader.Load(memory, BzImage(), new byte[12 << 20], "", 0));
        Assert.Contains("initrd", e.Message);
    }

    [Fact]
    public void OverlongCommandLineIsRejected()
    {
        using var memory = GuestMemory.Create(64 << 20);
        var e = Assert.Throws<BootImageException>(() => LinuxLoader.Load(memory, BzImage(), [], new string('a', 2048), 0));
        Assert.Contains("2047", e.Message);
        LinuxLoader.Load(memory, BzImage(), [], new string('a', 2047), 0);
    }
}
