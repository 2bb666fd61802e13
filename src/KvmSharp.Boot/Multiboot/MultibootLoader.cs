using KvmSharp.Boot.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using I = KvmSharp.Boot.Multiboot.MultibootInfo;

namespace KvmSharp.Boot.Multiboot;

/// <summary>
/// Loads a Multiboot (v1, spec 0.6.96) kernel: ELF32/ELF64 by its program headers, or a flat binary by the
/// header's address fields; modules page-aligned after the kernel; the information structure at
/// <see cref="MemoryMap.MultibootInfo"/> with its strings and tables in <see cref="MemoryMap.MultibootScratch"/>;
/// and the §3.2 machine state: EAX = 0x2BADB002, EBX = info address, flat 32-bit protected mode, no paging.
/// </summary>
public static class MultibootLoader
{
    /// <summary>True when <paramref name="image"/> has a valid multiboot header in its first 8 KiB.</summary>
    public static bool IsMultiboot(ReadOnlySpan<byte> image)
    {
        try
        {
            return MultibootHeader.TryFind(image, out _);
        }
        catch (BootImageException)
        {
            return true; // a header that is there but truncated: it is multiboot, Load will say what is wrong
        }
    }

    /// <summary>Loads the kernel and modules and returns the entry state; throws <see cref="BootImageException"/> for unusable input.</summary>
    public static BootCpuState Load(GuestMemory memory, ReadOnlySpan<byte> image, string commandLine, IReadOnlyList<MultibootModule> modules)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(commandLine);
        ArgumentNullException.ThrowIfNull(modules);
        var header = MultibootHeader.Parse(image);
        uint unknown = header.Flags & 0xFFFF & ~MultibootHeader.KnownRequiredFlags;
        if (unknown != 0)
            throw new BootImageException(
                $"multiboot kernel requires features KvmSharp does not provide (header flags 0x{unknown:x}); it cannot be booted");

        var map = E820Map.ForRam(memory.Size);
        ulong lowRamEnd = Math.Min(map.LowRamEnd, uint.MaxValue);
        LoadedImage loaded;
        if (header.HasAddressFields)
            loaded = AoutKludgeImage.Load(memory, image, header, lowRamEnd);
        else if (ElfKernelImage.IsElf(image))
            loaded = ElfKernelImage.Load(memory, image, lowRamEnd);
        else
            throw new BootImageException("multiboot kernel is neither ELF nor has header address fields (flag 16); relink it as ELF");

        var info = memory.GetSpan(new GuestAddress(MemoryMap.MultibootInfo), I.Size);
        info.Clear();
        var scratch = new ScratchArea(memory);
        uint flags = I.FlagMemory | I.FlagCmdLine | I.FlagBootLoaderName | I.FlagMmap;

        // mem_lower: KiB of RAM from 0 (at most 640); mem_upper: KiB from 1 MiB to the first hole (§3.3).
        Write(info, I.MemLower, (uint)(MemoryMap.EbdaStart >> 10));
        Write(info, I.MemUpper, (uint)((lowRamEnd - MemoryMap.KernelStart) >> 10));
        Write(info, I.CmdLine, scratch.WriteString(commandLine, "kernel command line"));
        Write(info, I.BootLoaderName, scratch.WriteString(I.BootLoaderNameValue, "boot loader name"));
        WriteMemoryMap(memory, info, scratch, map);
        if (modules.Count > 0)
        {
            WriteModules(memory, info, scratch, modules, loaded.End, lowRamEnd);
            flags |= I.FlagMods;
        }
        Write(info, I.Flags, flags);

        var registers = new Registers
        {
            Rax = I.BootloaderMagic,
            Rbx = MemoryMap.MultibootInfo,
            Rip = loaded.Entry,
            Rsp = MemoryMap.BootStackTop, // §3.2 leaves ESP undefined; a valid stack costs nothing
        };
        return EntryStates.ProtectedMode(memory, registers);
    }

    private static void WriteMemoryMap(GuestMemory memory, Span<byte> info, ScratchArea scratch, E820Map map)
    {
        var entries = map.Entries;
        uint length = (uint)(entries.Count * I.MmapEntrySize);
        uint at = scratch.Allocate(length, 8);
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = new GuestAddress(at + (ulong)(i * I.MmapEntrySize));
            memory.Write(entry, I.MmapEntrySizeField);
            entries[i].WriteTo(memory.GetSpan(entry + 4, E820Entry.EncodedSize));
        }
        Write(info, I.MmapLength, length);
        Write(info, I.MmapAddr, at);
    }

    private static void WriteModules(GuestMemory memory, Span<byte> info, ScratchArea scratch,
        IReadOnlyList<MultibootModule> modules, ulong kernelEnd, ulong lowRamEnd)
    {
        uint list = scratch.Allocate((ulong)modules.Count * I.ModuleEntrySize, 16);
        ulong next = AlignPage(kernelEnd);
        for (int i = 0; i < modules.Count; i++)
        {
            var module = modules[i] ?? throw new ArgumentException($"module {i} is null", nameof(modules));
            ulong size = (ulong)module.Contents.Length;
            if (size > lowRamEnd || next > lowRamEnd - size)
                throw new BootImageException(
                    $"multiboot module {i} ({size >> 10} KiB) does not fit in guest RAM after the kernel and earlier modules; give the VM more memory");
            memory.Write(new GuestAddress(next), module.Contents.Span);
            var entry = new GuestAddress(list + (ulong)(i * I.ModuleEntrySize));
            memory.Write(entry, (uint)next);
            memory.Write(entry + 4, (uint)(next + size));
            memory.Write(entry + 8, scratch.WriteString(module.CommandLine ?? "", $"module {i} string"));
            memory.Write(entry + 12, 0u);
            next = AlignPage(next + size);
        }
        Write(info, I.ModsCount, (uint)modules.Count);
        Write(info, I.ModsAddr, list);
    }

    private static ulong AlignPage(ulong value) => (value + MemoryMap.PageSize - 1) & ~(MemoryMap.PageSize - 1);

    private static void Write(Span<byte> info, int offset, uint value) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(info[offset..], value);
}
