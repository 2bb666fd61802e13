using System.Text;
using KvmSharp.Boot;
using KvmSharp.Boot.Multiboot;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static KvmSharp.Tests.Boot.BootTestImages;

namespace KvmSharp.Tests.Boot;

public class MultibootLoaderTests
{
    private const ulong Info = MemoryMap.MultibootInfo;
    private static readonly MultibootModule[] NoModules = [];

    private static uint InfoField(GuestMemory m, int offset) => m.Read<uint>(new GuestAddress(Info + (ulong)offset));

    private static string CString(GuestMemory m, uint address)
    {
        var bytes = new List<byte>();
        for (ulong a = address; m.Read<byte>(new GuestAddress(a)) != 0; a++) bytes.Add(m.Read<byte>(new GuestAddress(a)));
        return Encoding.UTF8.GetString([.. bytes]);
    }

    [Fact]
    public void AoutKludgeLoadsFileBssAndEntryState()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var image = AoutKernel();
        memory.Write(new GuestAddress(0x100000 + (ulong)image.Length), new byte[] { 0xFF, 0xFF, 0xFF, 0xFF });
        Assert.True(MultibootLoader.IsMultiboot(image));

        var state = MultibootLoader.Load(memory, image, "console=ttyS0", NoModules);

        var loaded = new byte[image.Length];
        memory.Read(new GuestAddress(0x100000), loaded);
        Assert.Equal(image, loaded);
        Assert.Equal(0u, memory.Read<uint>(new GuestAddress(0x100000 + (ulong)image.Length))); // bss zeroed
        Assert.Equal(0x2BADB002UL, state.Registers.Rax);
        Assert.Equal(Info, state.Registers.Rbx);
        Assert.Equal(0x100060UL, state.Registers.Rip);
        Assert.Equal(Registers.FlagsReserved, state.Registers.Rflags);
        var s = state.SpecialRegisters;
        Assert.Equal(SpecialRegisters.Cr0ProtectionEnable, s.Cr0 & (SpecialRegisters.Cr0ProtectionEnable | SpecialRegisters.Cr0Paging));
        Assert.Equal(0UL, s.Efer);
        Assert.Equal(1, s.Cs.DefaultSize);
        Assert.Equal(0, s.Cs.Long);
        foreach (var seg in new[] { s.Cs, s.Ds, s.Es, s.Fs, s.Gs, s.Ss })
        {
            Assert.Equal(0UL, seg.Base);
            Assert.Equal(0xFFFF_FFFFu, seg.Limit);
        }
        // The hidden caches match what the GDT holds.
        Assert.Equal(s.Cs.ToDescriptor(), memory.Read<ulong>(new GuestAddress(s.Gdt.Base + s.Cs.Selector)));
        Assert.Equal(s.Ds.ToDescriptor(), memory.Read<ulong>(new GuestAddress(s.Gdt.Base + s.Ds.Selector)));
    }

    [Fact]
    public void InfoStructureHasMemoryCommandLineNameAndMmap()
    {
        using var memory = GuestMemory.Create(16 << 20);
        MultibootLoader.Load(memory, AoutKernel(), "root=/dev/vda quiet", NoModules);

        uint flags = InfoField(memory, MultibootInfo.Flags);
        Assert.Equal(MultibootInfo.FlagMemory | MultibootInfo.FlagCmdLine | MultibootInfo.FlagMmap | MultibootInfo.FlagBootLoaderName, flags);
        Assert.Equal(639u, InfoField(memory, MultibootInfo.MemLower));
        Assert.Equal(15u * 1024, InfoField(memory, MultibootInfo.MemUpper));
        Assert.Equal("root=/dev/vda quiet", CString(memory, InfoField(memory, MultibootInfo.CmdLine)));
        Assert.Equal("KvmSharp", CString(memory, InfoField(memory, MultibootInfo.BootLoaderName)));
        Assert.InRange(InfoField(memory, MultibootInfo.CmdLine), (uint)MemoryMap.MultibootScratch, (uint)MemoryMap.EbdaStart);

        var e820 = E820Map.ForRam(16 << 20).Entries;
        uint mmap = InfoField(memory, MultibootInfo.MmapAddr);
        Assert.Equal((uint)(e820.Count * 24), InfoField(memory, MultibootInfo.MmapLength));
        for (int i = 0; i < e820.Count; i++)
        {
            var at = new GuestAddress(mmap + (ulong)(i * 24));
            Assert.Equal(20u, memory.Read<uint>(at));
            Assert.Equal(e820[i].Address, memory.Read<ulong>(at + 4));
            Assert.Equal(e820[i].Size, memory.Read<ulong>(at + 12));
            Assert.Equal((uint)e820[i].Type, memory.Read<uint>(at + 20));
        }
    }

    [Fact]
    public void ModulesArePageAlignedAfterTheKernel()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var image = AoutKernel(bss: 0x1800);
        MultibootModule[] modules = [new(new byte[] { 1, 2, 3 }, "first"), new(new byte[5000], "second arg")];
        MultibootLoader.Load(memory, image, "", modules);

        Assert.NotEqual(0u, InfoField(memory, MultibootInfo.Flags) & MultibootInfo.FlagMods);
        Assert.Equal(2u, InfoField(memory, MultibootInfo.ModsCount));
        uint list = InfoField(memory, MultibootInfo.ModsAddr);
        uint kernelEnd = 0x100000 + (uint)image.Length + 0x1800;
        uint start0 = memory.Read<uint>(new GuestAddress(list));
        Assert.Equal((kernelEnd + 0xFFFu) & ~0xFFFu, start0);
        Assert.Equal(start0 + 3, memory.Read<uint>(new GuestAddress(list + 4)));
        Assert.Equal("first", CString(memory, memory.Read<uint>(new GuestAddress(list + 8))));
        Assert.Equal(2, memory.Read<byte>(new GuestAddress(start0 + 1)));
        uint start1 = memory.Read<uint>(new GuestAddress(list + 16));
        Assert.Equal(start0 + 0x1000, start1);
        Assert.Equal(start1 + 5000, memory.Read<uint>(new GuestAddress(list + 20)));
        Assert.Equal("second arg", CString(memory, memory.Read<uint>(new GuestAddress(list + 24))));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ElfSegmentsLoadAtPhysicalAddressesAndEntryIsTranslated(bool is64)
    {
        using var memory = GuestMemory.Create(16 << 20);
        ulong vaddr = is64 ? 0xFFFF_FFFF_8020_0000 : 0xC020_0000;
        var image = ElfKernel(is64, vaddr, paddr: 0x200000, fileBytes: 0x300, bss: 0x2000);
        memory.Write(new GuestAddress(0x200300), 0xFFFF_FFFFu);
        Assert.True(MultibootLoader.IsMultiboot(image));

        var state = MultibootLoader.Load(memory, image, "x", NoModules);

        var loaded = new byte[0x300];
        memory.Read(new GuestAddress(0x200000), loaded);
        Assert.Equal(image.AsSpan(0x100, 0x300).ToArray(), loaded);
        Assert.Equal(0u, memory.Read<uint>(new GuestAddress(0x200300)));
        Assert.Equal(0x200010UL, state.Registers.Rip);
        Assert.Equal(0x2BADB002UL, state.Registers.Rax);
    }

    [Fact]
    public void BadChecksumIsRejected()
    {
        var image = AoutKernel();
        image[0x48] ^= 1;
        Assert.False(MultibootLoader.IsMultiboot(image));
        using var memory = GuestMemory.Create(16 << 20);
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void HeaderBeyondEightKilobytesIsNotFound()
    {
        var image = new byte[9000];
        WriteMultibootHeader(image, 8192, 0x3);
        Assert.False(MultibootLoader.IsMultiboot(image));
    }

    [Fact]
    public void UnknownRequiredFlagIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(flags: 0x0001_0008), "", NoModules));
        Assert.Contains("0x8", e.Message);
    }

    [Fact]
    public void LoadEndPastTheFileIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var image = AoutKernel(loadEnd: 0x100000 + 0x10000);
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void LoadAddressOutsideRamIsRejected()
    {
        using var memory = GuestMemory.Create(4 << 20);
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(load: 0x3FF000), "", NoModules));
        Assert.Contains("more memory", e.Message);
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(load: 0x1000), "", NoModules));
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(bss: 0xFFF0_0000), "", NoModules));
    }

    [Fact]
    public void EntryOutsideTheImageIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(entry: 0x50_0000), "", NoModules));
    }

    [Fact]
    public void TruncatedElfIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var image = ElfKernel(false, 0x200000, 0x200000);
        var truncated = image.AsSpan(0, 0x180).ToArray(); // segment data ends at 0x400
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, truncated, "", NoModules));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void HostileProgramHeaderTableIsRejected()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var image = ElfKernel(true, 0x200000, 0x200000);
        U64(image, 32, ulong.MaxValue - 8); // e_phoff
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
        image = ElfKernel(true, 0x200000, 0x200000);
        U64(image, 64 + 8, ulong.MaxValue); // p_offset
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
        image = ElfKernel(true, 0x200000, 0x200000);
        U64(image, 64 + 24, ulong.MaxValue - 0x100); // p_paddr wraps
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
        image = ElfKernel(false, 0x200000, 0x200000, entry: 0x900000);
        Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, image, "", NoModules));
    }

    [Fact]
    public void ModuleThatDoesNotFitIsRejected()
    {
        using var memory = GuestMemory.Create(4 << 20);
        MultibootModule[] modules = [new(new byte[4 << 20], "big")];
        var e = Assert.Throws<BootImageException>(() => MultibootLoader.Load(memory, AoutKernel(), "", modules));
        Assert.Contains("module 0", e.Message);
    }
}
