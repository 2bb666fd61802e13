using System.Buffers.Binary;
using H = KvmSharp.Boot.Linux.SetupHeaderOffsets;

namespace KvmSharp.Boot.Linux;

/// <summary>
/// The setup header of a bzImage, parsed and checked against the file (Documentation/arch/x86/boot.rst,
/// "The Real-Mode Kernel Header"). Holds numbers only; <see cref="LinuxLoader"/> takes the bytes again to load.
/// </summary>
public sealed class LinuxBootImage
{
    /// <summary>Oldest protocol we load: 2.06 brought cmdline_size and a 32-bit initrd_addr_max we rely on.</summary>
    public const ushort MinimumVersion = 0x0206;

    /// <summary>Bytes up to and including handover_offset: every field we read.</summary>
    private const int MinimumFileLength = H.HandoverOffset + 4;

    private LinuxBootImage() { }

    public int FileLength { get; private init; }
    /// <summary>setup_sects as in the file (0 means 4).</summary>
    public byte SetupSects { get; private init; }
    /// <summary>Bytes of the real-mode part: (setup_sects or 4, + 1 boot sector) × 512.</summary>
    public int SetupSize { get; private init; }
    /// <summary>Bytes of the protected-mode kernel: the rest of the file after the setup.</summary>
    public int KernelSize => FileLength - SetupSize;
    public ushort RootFlags { get; private init; }
    /// <summary>syssize: protected-mode code size in 16-byte paragraphs.</summary>
    public uint SysSize { get; private init; }
    public ushort BootFlag { get; private init; }
    public uint Header { get; private init; }
    public ushort Version { get; private init; }
    public byte LoadFlags { get; private init; }
    public uint Code32Start { get; private init; }
    public uint InitrdAddrMax { get; private init; }
    public uint KernelAlignment { get; private init; }
    public bool Relocatable { get; private init; }
    /// <summary>min_alignment as a power of two (2.10+).</summary>
    public byte MinAlignment { get; private init; }
    public ushort XLoadFlags { get; private init; }
    /// <summary>Longest command line the kernel takes, without the terminating NUL.</summary>
    public uint CmdlineSize { get; private init; }
    public uint PayloadOffset { get; private init; }
    public uint PayloadLength { get; private init; }
    public ulong PrefAddress { get; private init; }
    /// <summary>Bytes the kernel needs from its run address while it decompresses and initialises.</summary>
    public uint InitSize { get; private init; }
    public uint HandoverOffset { get; private init; }
    /// <summary>One past the last setup-header byte: 0x202 + the jump's displacement byte at 0x201.</summary>
    public int HeaderEnd { get; private init; }

    public bool LoadedHigh => (LoadFlags & BootParamsOffsets.LoadedHigh) != 0;
    public bool HasKernel64Entry => (XLoadFlags & BootParamsOffsets.XlfKernel64) != 0;

    /// <summary>Parses and validates the header; throws <see cref="BootImageException"/> when the file is not a usable bzImage.</summary>
    public static LinuxBootImage Parse(ReadOnlySpan<byte> bzImage)
    {
        const string hint = "pass a bzImage (e.g. /boot/vmlinuz-*), not a vmlinux ELF or a compressed archive";
        if (bzImage.Length < MinimumFileLength)
            throw new BootImageException($"kernel image is only {bzImage.Length} bytes, too short for a Linux setup header; {hint}");
        if (U16(bzImage, H.BootFlag) != H.BootFlagMagic || U32(bzImage, H.Header) != H.HeaderMagic)
            throw new BootImageException($"kernel image has no Linux boot header (boot_flag 0xAA55 and \"HdrS\" at 0x202); {hint}");

        ushort version = U16(bzImage, H.Version);
        if (version < MinimumVersion)
            throw new BootImageException(
                $"kernel uses boot protocol {version >> 8}.{version & 0xFF:d2}; KvmSharp needs 2.06 or newer (Linux 2.6.22+)");

        byte setupSects = bzImage[H.SetupSects];
        int setupSize = ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
        if (setupSize >= bzImage.Length)
            throw new BootImageException($"kernel image is truncated: setup_sects says the setup is {setupSize} bytes but the file has {bzImage.Length}");

        int headerEnd = Math.Min(0x202 + bzImage[H.Jump + 1], H.BootParamsHeaderLimit);
        var image = new LinuxBootImage
        {
            FileLength = bzImage.Length,
            SetupSects = setupSects,
            SetupSize = setupSize,
            RootFlags = U16(bzImage, H.RootFlags),
            SysSize = U32(bzImage, H.SysSize),
            BootFlag = U16(bzImage, H.BootFlag),
            Header = U32(bzImage, H.Header),
            Version = version,
            LoadFlags = bzImage[H.LoadFlags],
            Code32Start = U32(bzImage, H.Code32Start),
            InitrdAddrMax = U32(bzImage, H.InitrdAddrMax),
            KernelAlignment = version >= 0x0205 ? U32(bzImage, H.KernelAlignment) : 0,
            Relocatable = version >= 0x0205 && bzImage[H.RelocatableKernel] != 0,
            MinAlignment = version >= 0x020A ? bzImage[H.MinAlignment] : (byte)0,
            XLoadFlags = version >= 0x020C ? U16(bzImage, H.XLoadFlags) : (ushort)0,
            CmdlineSize = U32(bzImage, H.CmdlineSize),
            PayloadOffset = version >= 0x0208 ? U32(bzImage, H.PayloadOffset) : 0,
            PayloadLength = version >= 0x0208 ? U32(bzImage, H.PayloadLength) : 0,
            PrefAddress = version >= 0x020A ? U64(bzImage, H.PrefAddress) : 0,
            InitSize = version >= 0x020A ? U32(bzImage, H.InitSize) : 0,
            HandoverOffset = version >= 0x020B ? U32(bzImage, H.HandoverOffset) : 0,
            HeaderEnd = headerEnd,
        };
        image.CheckConsistency();
        return image;
    }

    private void CheckConsistency()
    {
        if (!LoadedHigh)
            throw new BootImageException("kernel is a zImage (loaded below 1 MiB); KvmSharp boots bzImages only: build with 'make bzImage'");
        // syssize counts 16-byte paragraphs of the protected-mode code; the file must hold them (protocol 2.04+: 32 bits).
        if ((ulong)SysSize * 16 > (ulong)KernelSize)
            throw new BootImageException(
                $"kernel image is truncated: the header says {(ulong)SysSize * 16} bytes of kernel follow the setup but only {KernelSize} do");
        if ((ulong)PayloadOffset + PayloadLength > (ulong)KernelSize)
            throw new BootImageException("kernel image is corrupt: its compressed payload (payload_offset + payload_length) runs past the end of the file");
        if (Relocatable && (KernelAlignment == 0 || (KernelAlignment & (KernelAlignment - 1)) != 0))
            throw new BootImageException($"kernel image is corrupt: kernel_alignment 0x{KernelAlignment:x} is not a power of two");
        if (CmdlineSize == 0)
            throw new BootImageException("kernel image is corrupt: cmdline_size is 0");
    }

    private static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);
    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
    private static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);
}
