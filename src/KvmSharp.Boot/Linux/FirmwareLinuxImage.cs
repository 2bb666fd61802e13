using System.Buffers.Binary;
using System.Text;
using H = KvmSharp.Boot.Linux.SetupHeaderOffsets;
using P = KvmSharp.Boot.Linux.BootParamsOffsets;

namespace KvmSharp.Boot.Linux;

/// <summary>
/// A Linux kernel handed to firmware to start through its 16-bit boot protocol (Documentation/arch/x86/boot.rst),
/// as QEMU's <c>-kernel</c> does: the setup sectors (with the header filled in as a boot loader must), the
/// protected-mode kernel, the initrd and the command line, each with the address it is to be copied to. An option
/// ROM in the firmware copies them there and jumps to the setup code. The layout is QEMU's for protocol 2.02+:
/// setup at 0x10000 with its heap up to the command line at 0x20000, the kernel at 1 MiB, the initrd as high as
/// the kernel allows below the RAM the firmware keeps for itself at the top of low memory.
/// </summary>
public sealed record FirmwareLinuxImage(byte[] Setup, byte[] Kernel, byte[] Initrd, byte[] CommandLine,
    uint SetupAddress, uint KernelAddress, uint InitrdAddress, uint CommandLineAddress)
{
    public const uint RealModeAddress = 0x10000, CommandLineAt = 0x20000, ProtectedModeAddress = 0x100000;

    /// <summary>The top of low RAM that SeaBIOS's own tables may use (QEMU keeps the initrd below it, acpi_data_size).</summary>
    public const uint FirmwareReserve = 0x28000;

    public static FirmwareLinuxImage Create(ReadOnlySpan<byte> bzImage, ReadOnlySpan<byte> initrd, string commandLine, ulong lowRamEnd)
    {
        var image = LinuxBootImage.Parse(bzImage);
        if ((image.LoadFlags & P.LoadedHigh) == 0)
            throw new BootImageException("the kernel is not a bzImage (it does not load high); firmware boot needs one");
        byte[] cmdline = Encoding.UTF8.GetBytes(commandLine);
        if (cmdline.AsSpan().IndexOf((byte)0) >= 0) throw new BootImageException("kernel command line contains a NUL character; remove it");
        if ((uint)cmdline.Length > Math.Min(image.CmdlineSize, 0xFFFF))
            throw new BootImageException($"kernel command line is {cmdline.Length} bytes; this kernel accepts at most {image.CmdlineSize}; shorten it");

        ulong top = Math.Min(image.InitrdAddrMax, lowRamEnd - FirmwareReserve - 1);
        uint initrdAddress = 0;
        if (!initrd.IsEmpty)
        {
            ulong kernelEnd = ProtectedModeAddress + (ulong)image.KernelSize;
            if ((ulong)initrd.Length > top - kernelEnd) throw new BootImageException($"the initrd ({initrd.Length} bytes) does not fit in guest RAM below the firmware's; give the machine more memory");
            initrdAddress = (uint)((top - (ulong)initrd.Length) & ~0xFFFUL);
        }

        byte[] setup = bzImage[..image.SetupSize].ToArray();
        var header = setup.AsSpan();
        header[H.TypeOfLoader] = 0xB0;   // QEMU's loader id: "other"
        header[H.LoadFlags] |= P.CanUseHeap;
        BinaryPrimitives.WriteUInt16LittleEndian(header[H.HeapEndPtr..], (ushort)(CommandLineAt - RealModeAddress - 0x200));
        BinaryPrimitives.WriteUInt32LittleEndian(header[H.CmdLinePtr..], CommandLineAt);
        BinaryPrimitives.WriteUInt32LittleEndian(header[H.RamdiskImage..], initrdAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(header[H.RamdiskSize..], (uint)initrd.Length);
        return new FirmwareLinuxImage(setup, bzImage[image.SetupSize..].ToArray(), initrd.ToArray(), [.. cmdline, 0],
            RealModeAddress, ProtectedModeAddress, initrdAddress, CommandLineAt);
    }
}
