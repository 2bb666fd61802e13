using KvmSharp.Boot;
using KvmSharp.Boot.Linux;
using KvmSharp.Boot.Multiboot;
using KvmSharp.Memory;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Fuzz.Targets;

/// <summary>Guest RAM the loaders write into: one 64 MiB mapping for the whole run (pages stay touched, which is fine).</summary>
internal static class LoaderMemory
{
    public static readonly GuestMemory Instance = GuestMemory.Create(64 << 20);
}

/// <summary>A kernel file given to --kernel as a bzImage: LinuxLoader.Load, the call MachineBuilder's KernelLoader makes.</summary>
public sealed class BzImageTarget : FuzzTarget
{
    public override string Name => "bzimage";
    public override string Description => "Linux bzImage setup header and placement (Boot/Linux LinuxLoader.Load)";
    public override bool IsExpected(Exception exception) => exception is BootImageException;

    public override void Run(ReadOnlySpan<byte> input) =>
        LinuxLoader.Load(LoaderMemory.Instance, input, "initrd"u8, "console=ttyS0 quiet", 0xE0000);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("protocol-2.15", BootTestImages.BzImage(kernelBytes: 0x400));
        yield return new("protocol-2.06-no-64bit-entry", BootTestImages.BzImage(kernelBytes: 0x200, version: 0x0206, xloadflags: 0));
        yield return new("setup-sects-0", BootTestImages.BzImage(kernelBytes: 0x200, setupSects: 0));
    }
}

/// <summary>A multiboot kernel with address fields (the a.out kludge): MultibootLoader.Load with one module.</summary>
public sealed class MultibootTarget : FuzzTarget
{
    public override string Name => "multiboot";
    public override string Description => "multiboot header, a.out-kludge image and info structure (Boot/Multiboot MultibootLoader.Load)";
    public override bool IsExpected(Exception exception) => exception is BootImageException;

    public override void Run(ReadOnlySpan<byte> input) =>
        MultibootLoader.Load(LoaderMemory.Instance, input, "console=ttyS0", [new MultibootModule(new byte[300], "initrd")]);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("aout-kludge", BootTestImages.AoutKernel(codeLength: 0x100));
        yield return new("aout-kludge-with-video-flag", BootTestImages.AoutKernel(codeLength: 0x80, flags: 0x0001_0007));
    }
}

/// <summary>A multiboot kernel linked as ELF32/ELF64: the program-header path of MultibootLoader.Load.</summary>
public sealed class ElfTarget : FuzzTarget
{
    public override string Name => "elf";
    public override string Description => "ELF32/ELF64 program headers of a multiboot kernel (Boot/Multiboot ElfKernelImage via MultibootLoader.Load)";
    public override bool IsExpected(Exception exception) => exception is BootImageException;

    public override void Run(ReadOnlySpan<byte> input) =>
        MultibootLoader.Load(LoaderMemory.Instance, input, "console=ttyS0", []);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("elf32", BootTestImages.ElfKernel(false, 0x100000, 0x100000, fileBytes: 0x80));
        yield return new("elf64-higher-half", BootTestImages.ElfKernel(true, 0xFFFF_FFFF_8010_0000, 0x100000, fileBytes: 0x80));
    }
}
