using System.Buffers.Binary;
using System.Text;
using KvmSharp.Boot.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using H = KvmSharp.Boot.Linux.SetupHeaderOffsets;
using P = KvmSharp.Boot.Linux.BootParamsOffsets;

namespace KvmSharp.Boot.Linux;

/// <summary>
/// Loads a bzImage with the Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst): kernel at
/// 1 MiB, boot_params ("zero page") at <see cref="MemoryMap.ZeroPage"/>, command line at
/// <see cref="MemoryMap.CommandLine"/>, initrd as high as the kernel allows, and a long-mode vCPU state that
/// enters startup_64 (load address + 0x200) with RSI pointing at boot_params.
/// </summary>
public static class LinuxLoader
{
    /// <summary>startup_64 sits 0x200 bytes into the protected-mode kernel (boot.rst, "64-bit Boot Protocol").</summary>
    public const ulong Startup64Offset = 0x200;

    /// <summary>
    /// heap_end_ptr: end of the real-mode setup heap, minus 0x200, relative to the real-mode code. The 64-bit
    /// entry never runs the real-mode setup, so this only needs to be a legal value: the largest one (64 KiB - 0x200).
    /// </summary>
    public const ushort HeapEndPointer = 0xFE00;

    public static LinuxBootImage Parse(ReadOnlySpan<byte> bzImage) => LinuxBootImage.Parse(bzImage);

    /// <summary>
    /// Writes the kernel, command line, initrd (<paramref name="initrd"/> empty = none) and boot_params into
    /// <paramref name="memory"/> and returns the entry state. <paramref name="rsdpAddress"/> goes to
    /// boot_params.acpi_rsdp_addr (0 = let the kernel scan for it). Throws <see cref="BootImageException"/>
    /// for an unusable kernel, command line or initrd.
    /// </summary>
    public static BootCpuState Load(GuestMemory memory, ReadOnlySpan<byte> bzImage, ReadOnlySpan<byte> initrd,
        string commandLine, ulong rsdpAddress)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(commandLine);
        var image = LinuxBootImage.Parse(bzImage);
        if (!image.HasKernel64Entry)
            throw new BootImageException(
                "kernel has no 64-bit entry point (xloadflags XLF_KERNEL_64, boot protocol 2.12+); boot a 64-bit x86_64 kernel");

        var map = E820Map.ForRam(memory.Size);
        var placement = KernelPlacement.For(image, map.LowRamEnd);
        byte[] cmdline = EncodeCommandLine(commandLine, image.CmdlineSize);
        ulong initrdAddress = initrd.IsEmpty ? 0 : placement.PlaceInitrd(image, (ulong)initrd.Length, map.LowRamEnd);

        memory.Write(new GuestAddress(placement.LoadAddress), bzImage[image.SetupSize..]);
        memory.WriteCString(new GuestAddress(MemoryMap.CommandLine), cmdline);
        if (!initrd.IsEmpty)
            memory.Write(new GuestAddress(initrdAddress), initrd);

        var zeroPage = memory.GetSpan(new GuestAddress(MemoryMap.ZeroPage), P.Size);
        WriteBootParams(zeroPage, bzImage, image, map, initrdAddress, (ulong)initrd.Length, rsdpAddress);

        var registers = new Registers
        {
            Rip = placement.LoadAddress + Startup64Offset,
            Rsi = MemoryMap.ZeroPage,
            Rsp = MemoryMap.BootStackTop,
        };
        return EntryStates.LongMode(memory, registers);
    }

    private static byte[] EncodeCommandLine(string commandLine, uint cmdlineSize)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(commandLine);
        if (bytes.AsSpan().IndexOf((byte)0) >= 0)
            throw new BootImageException("kernel command line contains a NUL character; remove it");
        // cmdline_size excludes the terminating NUL (boot.rst, field "cmdline_size"); our buffer includes it.
        ulong max = Math.Min(cmdlineSize, MemoryMap.CommandLineMax - 1);
        if ((ulong)bytes.Length > max)
            throw new BootImageException($"kernel command line is {bytes.Length} bytes; this kernel accepts at most {max}; shorten it");
        return bytes;
    }

    /// <summary>Fills struct boot_params: the file's setup header, then what a boot loader must set (boot.rst, "Details of Header Fields").</summary>
    private static void WriteBootParams(Span<byte> zp, ReadOnlySpan<byte> bzImage, LinuxBootImage image, E820Map map,
        ulong initrdAddress, ulong initrdSize, ulong rsdpAddress)
    {
        zp.Clear();
        bzImage[H.Start..image.HeaderEnd].CopyTo(zp[H.Start..]);

        zp[H.TypeOfLoader] = P.UndefinedLoader;
        zp[H.LoadFlags] = (byte)(image.LoadFlags | P.LoadedHigh | P.CanUseHeap);
        BinaryPrimitives.WriteUInt16LittleEndian(zp[H.HeapEndPtr..], HeapEndPointer);

        WriteSplit(zp, H.CmdLinePtr, P.ExtCmdLinePtr, MemoryMap.CommandLine);
        WriteSplit(zp, H.RamdiskImage, P.ExtRamdiskImage, initrdAddress);
        WriteSplit(zp, H.RamdiskSize, P.ExtRamdiskSize, initrdSize);
        BinaryPrimitives.WriteUInt64LittleEndian(zp[P.AcpiRsdpAddr..], rsdpAddress);

        var entries = map.Entries;
        if (entries.Count > P.E820MaxEntries)
            throw new InvalidOperationException($"e820 map has {entries.Count} entries; the zero page holds {P.E820MaxEntries}");
        zp[P.E820Entries] = (byte)entries.Count;
        for (int i = 0; i < entries.Count; i++)
            entries[i].WriteTo(zp[(P.E820Table + i * E820Entry.EncodedSize)..]);
    }

    /// <summary>Low 32 bits in the setup-header field, high 32 bits in its ext_ twin (protocol 2.12+; older kernels ignore it).</summary>
    private static void WriteSplit(Span<byte> zp, int low, int high, ulong value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(zp[low..], (uint)value);
        BinaryPrimitives.WriteUInt32LittleEndian(zp[high..], (uint)(value >> 32));
    }
}
