using System.Buffers.Binary;
using KvmSharp.Boot;
using KvmSharp.Boot.Acpi;
using KvmSharp.Boot.Linux;
using KvmSharp.Boot.Smbios;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Firmware;
using KvmSharp.Machine.Config;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// A machine that firmware starts: the image mapped as flash ending at 4 GiB and copied into RAM so that it also
/// ends at 1 MiB (0xC0000–0xFFFFF for SeaBIOS's 256 KiB), the vCPUs left at their reset state (real mode at
/// F000:FFF0), and fw_cfg telling the firmware the machine as QEMU tells SeaBIOS and OVMF: CPU count, e820, the ACPI
/// tables with their loader script, SMBIOS tables, the serial console.
/// <para>Why a copy in RAM and no PAM registers: on QEMU's i440FX the last 128 KiB of the image appear at 0xE0000 as
/// ROM, and SeaBIOS first opens the PAM registers (RAM readable and writable from 0xC0000 to 1 MiB) and copies its
/// whole linked image there from the flash (its code32flat sections start below 0xE0000 in the 256 KiB build), then
/// closes the F segment after POST. Our host bridge is not an i440FX, so SeaBIOS finds no PAM to program ("Unable
/// to unlock ram - bridge not found") and copies nothing: the copy made here is the one it would have made, in RAM
/// that stays writable. What is lost is the F segment's write protection after POST, which guards the BIOS against
/// the guest's own stray writes and nothing else.</para>
/// </summary>
public static class FirmwareBoot
{
    /// <summary>The most of a BIOS image that lives below 1 MiB: from 0xC0000, where the option ROM area starts.</summary>
    public const int LowBiosSize = 256 << 10;

    // fw_cfg keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h, also listed in docs/specs/fw_cfg.rst).
    private const ushort KeyRamSize = 0x03, KeyCpuCount = 0x05, KeyBootMenu = 0x0E, KeyMaxCpus = 0x0F;
    private const ushort KeyKernelAddress = 0x07, KeyKernelSize = 0x08, KeyInitrdAddress = 0x0A, KeyInitrdSize = 0x0B,
        KeyKernelData = 0x11, KeyInitrdData = 0x12, KeyCommandLineAddress = 0x13, KeyCommandLineSize = 0x14,
        KeyCommandLineData = 0x15, KeySetupAddress = 0x16, KeySetupSize = 0x17, KeySetupData = 0x18;

    /// <summary>
    /// The option ROM that loads a kernel given through fw_cfg (QEMU's linuxboot_dma.bin, from Debian's
    /// qemu-system-data package, used in place): SeaBIOS runs it as a boot device, it copies setup, kernel, initrd and
    /// command line to their addresses over fw_cfg DMA and enters the kernel's real-mode setup.
    /// </summary>
    public const string LinuxBootRom = "/usr/share/qemu/linuxboot_dma.bin";
    private const string LinuxBootRomFile = "genroms/linuxboot_dma.bin";

    /// <summary>Reads the image named by <paramref name="firmware"/>; every failure is one line naming the file.</summary>
    public static byte[] ReadImage(FirmwareConfig firmware)
    {
        byte[] image;
        try
        {
            image = File.ReadAllBytes(firmware.Image);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineConfigException($"cannot read the firmware image {firmware.Image}: {e.Message}");
        }
        // SeaBIOS builds come in 64 KiB steps; OVMF's code in 4 KiB blocks, with room left below it for its variables.
        int unit = firmware.Kind == FirmwareKind.Bios ? 64 << 10 : UefiVariableStore.BlockSize;
        ulong room = MemoryMap.FirmwareMaxSize - (firmware.Kind == FirmwareKind.Uefi ? (ulong)UefiVariableStore.MaxSize : 0);
        if (image.Length == 0 || image.Length % unit != 0 || (ulong)image.Length > room)
            throw new MachineConfigException(
                $"the firmware image {firmware.Image} has {image.Length} bytes; a {(firmware.Kind == FirmwareKind.Bios ? "BIOS" : "UEFI")} image is a multiple of {unit >> 10} KiB and at most {room >> 10} KiB");
        return image;
    }

    /// <summary>
    /// OVMF's variable store, as a flash chip on the MMIO bus directly below the code (QEMU's pflash1): every access
    /// traps, on both accelerators, so the chip's command state decides what reads give.
    /// </summary>
    public static (CfiFlash Flash, FlashFile? File) MapVariableStore(IoBus mmio, FirmwareConfig firmware, int codeSize, Action<string> inform)
    {
        var (flash, file) = UefiVariableStore.Open(firmware, inform);
        mmio.Register(MemoryMap.PciHoleEnd - (ulong)codeSize - (ulong)flash.Size, (ulong)flash.Size, flash);
        return (flash, file);
    }

    /// <summary>Copies <paramref name="image"/> (its top 256 KiB) so that it ends at 1 MiB, as SeaBIOS's own copy would place it.</summary>
    public static void CopyLowBios(GuestMemory memory, byte[] image)
    {
        int low = Math.Min(LowBiosSize, image.Length);
        memory.Write(new GuestAddress(MemoryMap.AcpiTablesEnd - (ulong)low), image.AsSpan(image.Length - low));
    }

    /// <summary>The fw_cfg device with everything the firmware reads, on its ports.</summary>
    public static FwCfg CreateFwCfg(GuestMemory memory, IoBus ports, MachineConfig config, FirmwareAcpiTables acpi)
    {
        var fwCfg = new FwCfg(memory);
        fwCfg.AddItem(KeyRamSize, U64(config.MemorySize));
        fwCfg.AddItem(KeyCpuCount, U16((ushort)config.VcpuCount));
        fwCfg.AddItem(KeyMaxCpus, U16((ushort)config.VcpuCount));
        fwCfg.AddItem(KeyBootMenu, U16(0));
        fwCfg.AddFile("etc/boot-cpus", U16((ushort)config.VcpuCount));
        fwCfg.AddFile("etc/e820", E820(config.MemorySize));
        fwCfg.AddFile(FirmwareAcpiTables.TablesFile, acpi.Tables);
        fwCfg.AddFile(FirmwareAcpiTables.RsdpFile, acpi.Rsdp);
        fwCfg.AddFile(FirmwareAcpiTables.LoaderFile, acpi.Loader);
        var ram = MemoryMap.RamRanges(config.MemorySize).Select(r => (r.Start.Value, r.Size)).ToList();
        var (smbios, anchor) = SmbiosTables.Build(new SmbiosMachine(config.Uuid, config.VcpuCount, config.MemorySize, ram));
        fwCfg.AddFile(SmbiosTables.TablesFile, smbios);
        fwCfg.AddFile(SmbiosTables.AnchorFile, anchor);
        bool kernelRom = config.Kernel is not null && config.Firmware?.Kind != FirmwareKind.Uefi;
        if (config.Kernel is { } kernel)
            AddKernel(fwCfg, kernel, MemoryMap.RamRanges(config.MemorySize)[0].Size, withOptionRom: kernelRom);
        if (FirmwareBootOrder.File(config, kernelRom ? LinuxBootRomFile : null) is { } bootOrder) fwCfg.AddFile(FirmwareBootOrder.FileName, bootOrder);
        fwCfg.AddFile(FirmwareBootOrder.BootFailWaitFileName, FirmwareBootOrder.BootFailWait());
        // SeaBIOS writes what it would show on a screen to this UART too (its "sercon"): we have no VGA.
        fwCfg.AddFile("etc/sercon-port", U16(0x3F8));
        ports.Register(FwCfg.PortBase, FwCfg.PortCount, fwCfg);
        return fwCfg;
    }

    /// <summary>
    /// The kernel for the firmware to start (as QEMU's -kernel). SeaBIOS needs an option ROM that does it, first in the
    /// boot order (<see cref="FirmwareBootOrder"/>); OVMF has its own loader for these items (QemuKernelLoaderFsDxe).
    /// </summary>
    private static void AddKernel(FwCfg fwCfg, KernelConfig kernel, ulong lowRamEnd, bool withOptionRom)
    {
        byte[]? rom = null;
        FirmwareLinuxImage image;
        try
        {
            if (withOptionRom) rom = File.ReadAllBytes(LinuxBootRom);
            image = FirmwareLinuxImage.Create(File.ReadAllBytes(kernel.Path), kernel.InitrdPath is { } initrd ? File.ReadAllBytes(initrd) : [],
                kernel.CommandLine, lowRamEnd);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BootImageException)
        {
            throw new MachineConfigException($"kernel: {e.Message}");
        }
        fwCfg.AddItem(KeySetupAddress, U32(image.SetupAddress));
        fwCfg.AddItem(KeySetupSize, U32((uint)image.Setup.Length));
        fwCfg.AddItem(KeySetupData, image.Setup);
        fwCfg.AddItem(KeyKernelAddress, U32(image.KernelAddress));
        fwCfg.AddItem(KeyKernelSize, U32((uint)image.Kernel.Length));
        fwCfg.AddItem(KeyKernelData, image.Kernel);
        fwCfg.AddItem(KeyInitrdAddress, U32(image.InitrdAddress));
        fwCfg.AddItem(KeyInitrdSize, U32((uint)image.Initrd.Length));
        fwCfg.AddItem(KeyInitrdData, image.Initrd);
        fwCfg.AddItem(KeyCommandLineAddress, U32(image.CommandLineAddress));
        fwCfg.AddItem(KeyCommandLineSize, U32((uint)image.CommandLine.Length));
        fwCfg.AddItem(KeyCommandLineData, image.CommandLine);
        if (rom is not null) fwCfg.AddFile(LinuxBootRomFile, rom);
    }

    /// <summary>
    /// "etc/e820" as QEMU writes it (RAM and reserved ranges, 20 bytes each): the RAM, the ECAM (so the OS trusts the
    /// MCFG) and the pages KVM keeps below the flash. The firmware adds its own reservations and hands the OS the result.
    /// </summary>
    private static byte[] E820(ulong ramSize)
    {
        var map = E820Map.ForRam(ramSize);
        var entries = new List<E820Entry>
        {
            new(0, map.LowRamEnd, E820Type.Ram),
            new(MemoryMap.PciEcamStart, MemoryMap.PciEcamSize, E820Type.Reserved),
            new(MemoryMap.KvmIdentityMap, MemoryMap.PciHoleEnd - MemoryMap.FirmwareMaxSize - MemoryMap.KvmIdentityMap, E820Type.Reserved),
        };
        if (map.HighRamSize != 0) entries.Add(new E820Entry(MemoryMap.PciHoleEnd, map.HighRamSize, E820Type.Ram));
        var bytes = new byte[entries.Count * E820Entry.EncodedSize];
        for (int i = 0; i < entries.Count; i++) entries[i].WriteTo(bytes.AsSpan(i * E820Entry.EncodedSize));
        return bytes;
    }

    private static byte[] U16(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        return bytes;
    }

    private static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }
}
