using System.Runtime.InteropServices;

namespace KvmSharp.Native.Net;

/// <summary>
/// The tun/tap driver's ioctls and flags (linux/if_tun.h, Documentation/networking/tuntap.rst). Numbers are
/// _IOW/_IOR('T', n, int) as the header builds them, checked against a C build of the header on x86-64.
/// </summary>
public static class TunConstants
{
    public const uint TUNSETIFF = 0x400454CA;
    public const uint TUNGETFEATURES = 0x800454CF;
    public const uint TUNSETOFFLOAD = 0x400454D0;
    public const uint TUNSETVNETHDRSZ = 0x400454D8;

    /// <summary>ifr_flags: an Ethernet (tap) device, frames without the 4-byte packet-info prefix, with a vnet header.</summary>
    public const short IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_VNET_HDR = 0x4000;

    /// <summary>TUNSETOFFLOAD bits: what the tap may hand us (partial checksums, TSO frames, ECN in TSO).</summary>
    public const uint TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_TSO_ECN = 0x08;

    /// <summary>IFNAMSIZ: interface names are at most 15 bytes plus the terminating NUL.</summary>
    public const int InterfaceNameSize = 16;
}

/// <summary>struct ifreq as TUNSETIFF reads it: the name, then ifr_flags at offset 16 (40 bytes on x86-64).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
public unsafe struct InterfaceRequest
{
    [FieldOffset(0)] public fixed byte Name[TunConstants.InterfaceNameSize];
    [FieldOffset(16)] public short Flags;
}
