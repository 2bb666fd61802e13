using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Native.Libc;

namespace KvmSharp.Native.Net;

/// <summary>
/// One queue of a Linux tap interface (Documentation/networking/tuntap.rst), opened non-blocking and
/// close-on-exec with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte vnet header, so that every read and
/// write is one Ethernet frame behind a header laid out as virtio 1.2's struct virtio_net_hdr (§5.1.6):
/// the kernel's virtio_net_hdr is its first 10 bytes and it skips the last two (num_buffers).
/// TUNSETIFF attaches to an existing tap (say from <c>ip tuntap add</c>) or creates one, which needs
/// CAP_NET_ADMIN.
/// </summary>
public sealed unsafe class TapDevice : IDisposable
{
    /// <summary>The vnet header size we ask for: virtio_net_hdr_v1's 12 bytes (VERSION_1 always has num_buffers).</summary>
    public const int VnetHeaderSize = 12;

    /// <summary>The offloads probed at open: all four together or none.</summary>
    public const uint AllOffloads = TunConstants.TUN_F_CSUM | TunConstants.TUN_F_TSO4 | TunConstants.TUN_F_TSO6 | TunConstants.TUN_F_TSO_ECN;

    /// <summary>What <see cref="IsValidName"/> accepts, in words for error messages.</summary>
    public const string NameRule = "1 to 15 characters, no '/', ':' or spaces";

    private const int EBUSY = 16, EINVAL = 22;

    private TapDevice(FileDescriptor handle, string name, bool offloads)
    {
        Handle = handle;
        Name = name;
        SupportsOffloads = offloads;
    }

    public FileDescriptor Handle { get; }
    public string Name { get; }

    /// <summary>The tap took TUNSETOFFLOAD with <see cref="AllOffloads"/>: it may hand us partial checksums and TSO frames.</summary>
    public bool SupportsOffloads { get; }

    /// <summary>Opens (or creates) tap <paramref name="name"/>; a <see cref="TapException"/> says in one line why not.</summary>
    public static TapDevice Open(string name)
    {
        CheckName(name);
        int fd = LibcImports.Open("/dev/net/tun", LibcConstants.O_RDWR | LibcConstants.O_NONBLOCK | LibcConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new TapException(errno == LibcConstants.ENOENT
                ? "/dev/net/tun does not exist: this host has no tun/tap driver (modprobe tun)"
                : $"cannot open /dev/net/tun: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var handle = new FileDescriptor(fd);
        try
        {
            uint features;
            if (LibcImports.Ioctl(handle, TunConstants.TUNGETFEATURES, &features) < 0 || (features & (ushort)TunConstants.IFF_VNET_HDR) == 0)
                throw new TapException("the host's tun driver has no vnet header support (IFF_VNET_HDR)");

            var request = new InterfaceRequest { Flags = TunConstants.IFF_TAP | TunConstants.IFF_NO_PI | TunConstants.IFF_VNET_HDR };
            Encoding.ASCII.GetBytes(name, new Span<byte>(request.Name, TunConstants.InterfaceNameSize - 1));
            if (LibcImports.Ioctl(handle, TunConstants.TUNSETIFF, &request) < 0)
                throw SetIffError(name, Marshal.GetLastPInvokeError());

            int headerSize = VnetHeaderSize;
            if (LibcImports.Ioctl(handle, TunConstants.TUNSETVNETHDRSZ, &headerSize) < 0)
                throw new TapException($"tap {name}: cannot set a {VnetHeaderSize}-byte vnet header: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

            // Probe the offloads, then take none until the driver negotiates them (§5.1.6.4.1 / TUNSETOFFLOAD).
            bool offloads = LibcImports.Ioctl(handle, TunConstants.TUNSETOFFLOAD, AllOffloads) == 0;
            if (LibcImports.Ioctl(handle, TunConstants.TUNSETOFFLOAD, 0) < 0)
                throw new TapException($"tap {name}: TUNSETOFFLOAD 0 failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return new TapDevice(handle, name, offloads);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Interface names: 1 to 15 bytes (IFNAMSIZ - 1), no '/', whitespace or ':' (dev_valid_name in the kernel).</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and < TunConstants.InterfaceNameSize && name != "." && name != ".."
        && name.All(c => c > ' ' && c < 0x7F && c != '/' && c != ':');

    /// <summary>Tells the tap which offloads it may use in frames it hands us (TUN_F_* bits).</summary>
    public void SetOffloads(uint tunFlags)
    {
        if (LibcImports.Ioctl(Handle, TunConstants.TUNSETOFFLOAD, tunFlags) < 0)
            throw new NativeException($"TUNSETOFFLOAD 0x{tunFlags:x} on tap {Name}", Marshal.GetLastPInvokeError());
    }

    public void Dispose() => Handle.Dispose();

    private static void CheckName(string name)
    {
        if (!IsValidName(name))
            throw new TapException($"'{name}' is not a network interface name ({NameRule})");
    }

    private static TapException SetIffError(string name, int errno) => errno switch
    {
        LibcConstants.EPERM or LibcConstants.EACCES =>
            new TapException($"tap {name}: permission denied (creating a tap needs CAP_NET_ADMIN; or create it first with 'ip tuntap add dev {name} mode tap user $USER')"),
        EBUSY => new TapException($"tap {name} is busy: another process has it open"),
        EINVAL => new TapException($"{name} exists but is not a single-queue tap device (a tun device, or a multi-queue tap?)"),
        _ => new TapException($"tap {name}: TUNSETIFF failed: {Marshal.GetPInvokeErrorMessage(errno)}"),
    };
}
