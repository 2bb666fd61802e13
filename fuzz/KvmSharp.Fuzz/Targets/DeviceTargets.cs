using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Devices.Virtio.Entropy;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Fuzz.Virtio;
using KvmSharp.Native.Libc;

namespace KvmSharp.Fuzz.Targets;

/// <summary>
/// A virtio device's request parser fed chains built from the input (<see cref="ChainInput"/>) on the queues it
/// answers at once. Expected: nothing escapes; a guest's malformed chain makes the device NEEDS_RESET, which is fine.
/// Findings come out of <see cref="DeviceRig"/> as <see cref="FuzzFinding"/>s.
/// </summary>
public abstract class DeviceTarget : FuzzTarget
{
    private DeviceRig? _rig;

    /// <summary>Queues a round may fill (rx-style queues that hold buffers until the host has data are left out).</summary>
    protected abstract int[] Queues { get; }

    protected abstract DeviceRig CreateRig();

    /// <summary>A device that answers anything but a guest's mistake with "unexpected" has hit a bug of ours.</summary>
    protected static bool SaysUnexpected(string text) => text.Contains("unexpected", StringComparison.Ordinal);

    public override bool IsExpected(Exception exception) => false;

    public override void Run(ReadOnlySpan<byte> input) => (_rig ??= CreateRig()).Round(input);

    protected ChainSeed Seed(int queuePick) => new(queuePick, DeviceRig.QueueBase(Queues[queuePick]));

    protected static byte[] Room(int length) => new byte[length];

    protected static byte[] Le(params object[] fields)
    {
        var stream = new MemoryStream();
        Span<byte> b = stackalloc byte[8];
        foreach (var f in fields)
        {
            switch (f)
            {
                case byte v: stream.WriteByte(v); break;
                case ushort v: BinaryPrimitives.WriteUInt16LittleEndian(b, v); stream.Write(b[..2]); break;
                case uint v: BinaryPrimitives.WriteUInt32LittleEndian(b, v); stream.Write(b[..4]); break;
                case ulong v: BinaryPrimitives.WriteUInt64LittleEndian(b, v); stream.Write(b[..8]); break;
                case byte[] v: stream.Write(v); break;
                case string v: stream.Write(Encoding.UTF8.GetBytes(v)); break;
                default: throw new ArgumentException($"field of type {f.GetType().Name}");
            }
        }
        return stream.ToArray();
    }
}

/// <summary>virtio-blk requests (virtio 1.2 §5.2.6) against a 256 KiB raw disk.</summary>
public sealed class BlockTarget : DeviceTarget
{
    public override string Name => "virtio-blk";
    public override string Description => "virtio-blk request headers, data and status buffers (Devices/Virtio/Block)";
    protected override int[] Queues => [0];

    protected override DeviceRig CreateRig()
    {
        string disk = Scratch.PathOf("blk.raw");
        File.WriteAllBytes(disk, new byte[256 << 10]);
        return new DeviceRig(notice => VirtioBlockDevice.Open(disk, "raw", readOnly: false, "fuzz", notice), Queues, SaysUnexpected);
    }

    private static byte[] Header(uint type, ulong sector) => Le(type, 0u, sector);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("read-write", Seed(0)
            .Chain((Header(1, 2), false), (new byte[512], false), (Room(1), true))
            .Chain((Header(0, 2), false), (Room(512), true), (Room(1), true)).Build());
        yield return new("flush-getid", Seed(0)
            .Chain((Header(4, 0), false), (Room(1), true))
            .Chain((Header(8, 0), false), (Room(20), true), (Room(1), true)).Build());
        yield return new("discard-write-zeroes", Seed(0)
            .Chain((Header(11, 0), false), (Le(8ul, 8u, 0u), false), (Room(1), true))
            .Chain((Header(13, 0), false), (Le(16ul, 8u, 1u), false), (Room(1), true)).Build());
    }
}

/// <summary>virtio-net transmit chains (§5.1.6.2): virtio_net_hdr_v1 then a frame, to a backend that takes anything.</summary>
public sealed class NetTarget : DeviceTarget
{
    public override string Name => "virtio-net";
    public override string Description => "virtio-net tx chains: vnet header and frame gathering (Devices/Virtio/Net NetTransmitter)";
    protected override int[] Queues => [1];

    protected override DeviceRig CreateRig() =>
        new(notice => new VirtioNetDevice(new NullNetBackend(), [0x52, 0x54, 0, 0x12, 0x34, 0x56], "fuzz", notice), Queues,
            text => SaysUnexpected(text) || text.Contains("Exception", StringComparison.Ordinal));

    public override IEnumerable<FuzzSeed> Seeds()
    {
        byte[] frame = Le(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06 }, new byte[46]);
        yield return new("header-and-frame", Seed(0).Chain((new byte[12], false), (frame, false)).Build());
        yield return new("one-buffer-csum", Seed(0).Chain((Le((byte)1, (byte)0, (ushort)0, (ushort)0, (ushort)14, (ushort)6, (ushort)0, frame), false)).Build());
    }

    /// <summary>A host side that takes every frame and never has one: the device's parsing is what is fuzzed.</summary>
    private sealed class NullNetBackend : INetBackend
    {
        private readonly EventNotifier _never = new();
        public SafeHandle Handle => _never.Handle;
        public bool SupportsOffloads => true;
        public int Receive(Span<byte> buffer) => 0;
        public int Send(ReadOnlySpan<byte> frame) => 0;
        public void SetOffloads(uint tunFlags) { }
        public void Dispose() => _never.Dispose();
    }
}

/// <summary>virtio-console's transmitq (§5.3.6): bytes to the host console.</summary>
public sealed class ConsoleTarget : DeviceTarget
{
    public override string Name => "virtio-console";
    public override string Description => "virtio-console transmitq chains (Devices/Virtio/Console)";
    protected override int[] Queues => [1];

    protected override DeviceRig CreateRig() => new(notice => new VirtioConsoleDevice(new NullOutput(), notice), Queues, SaysUnexpected);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("text", Seed(0).Chain((Le("hello from hvc0\n"), false)).Chain((Le("a"), false), (Le("b\n"), false)).Build());
    }

    private sealed class NullOutput : ISerialOutput
    {
        public void Write(ReadOnlySpan<byte> bytes) { }
    }
}

/// <summary>virtio-rng requests (§5.4.6): writable buffers to fill.</summary>
public sealed class EntropyTarget : DeviceTarget
{
    public override string Name => "virtio-rng";
    public override string Description => "virtio-rng request chains (Devices/Virtio/Entropy)";
    protected override int[] Queues => [0];

    protected override DeviceRig CreateRig() => new(notice => new VirtioEntropyDevice(notice), Queues, SaysUnexpected);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("fill", Seed(0).Chain((Room(64), true)).Chain((Room(16), true), (Room(16), true)).Build());
    }
}

/// <summary>virtio-balloon inflate and deflate PFN lists (§5.5.6).</summary>
public sealed class BalloonTarget : DeviceTarget
{
    public override string Name => "virtio-balloon";
    public override string Description => "virtio-balloon inflate/deflate PFN arrays (Devices/Virtio/Balloon)";
    protected override int[] Queues => [0, 1];

    protected override DeviceRig CreateRig() => new(notice => new VirtioBalloonDevice(notice), Queues, SaysUnexpected);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // PFNs of pages in the buffer area's far end (4 KiB units), and one past RAM.
        yield return new("inflate", Seed(0).Chain((Le(0x300u, 0x301u, 0x302u, 0xFFFF_0000u), false)).Build());
        yield return new("deflate", Seed(1).Chain((Le(0x300u, 0x301u), false)).Build());
    }
}

/// <summary>virtio-vsock tx packets (§5.10.6): 44-byte headers and payloads, the host side a Unix socket with nothing listening.</summary>
public sealed class VsockTarget : DeviceTarget
{
    public override string Name => "virtio-vsock";
    public override string Description => "virtio-vsock tx packet headers and ops (Devices/Virtio/Vsock VsockMuxer)";
    protected override int[] Queues => [1];

    protected override DeviceRig CreateRig() =>
        new(notice => new VirtioVsockDevice(3, Scratch.PathOf("vsock.sock"), notice), Queues, SaysUnexpected,
            // A malformed queue resets the device silently (VsockMuxer.Serve); only the event loop's last resort,
            // an exception that is not the guest's, also tells the user (VirtioVsockDevice.Fault).
            notice => notice.StartsWith("virtio-vsock: ", StringComparison.Ordinal));

    private static byte[] Packet(ushort op, uint length, uint port = 1234) =>
        Le(3ul, 2ul, 49152u, port, length, (ushort)1, op, 0u, 262144u, 0u);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("request-rw-shutdown", Seed(0)
            .Chain((Packet(1, 0), false))
            .Chain((Packet(5, 4), false), (Le("ping"), false))
            .Chain((Packet(4, 0), false)).Build());
        yield return new("credit-rst", Seed(0).Chain((Packet(6, 0), false)).Chain((Packet(7, 0), false)).Chain((Packet(3, 0), false)).Build());
    }
}

/// <summary>virtio-fs FUSE requests (§5.11.6, fuse.h 7.31) against a writable scratch folder, the session begun with INIT.</summary>
public sealed class FsTarget : DeviceTarget
{
    public override string Name => "virtio-fs";
    public override string Description => "virtio-fs FUSE messages: headers, arguments, names (Devices/Virtio/Fs FuseMessage, FuseServer)";
    protected override int[] Queues => [1, 0];

    protected override DeviceRig CreateRig()
    {
        string share = Scratch.PathOf("share");
        Directory.CreateDirectory(share);
        return new DeviceRig(notice => new VirtioFsDevice("fuzz", share, readOnly: false, notice), Queues, SaysUnexpected);
    }

    public override void Run(ReadOnlySpan<byte> input)
    {
        // What the guest made in the share last round goes, so rounds do not pile files up.
        string share = Scratch.PathOf("share");
        if (Directory.Exists(share) && Directory.EnumerateFileSystemEntries(share).Any())
        {
            Directory.Delete(share, recursive: true);
            Directory.CreateDirectory(share);
        }
        base.Run(input);
    }

    private static byte[] Request(uint opcode, ulong unique, ulong node, byte[] arguments) =>
        Le((uint)(40 + arguments.Length), opcode, unique, node, 0u, 0u, 1u, (ushort)0, (ushort)0, arguments);

    private static byte[] Init => Request(26, 1, 0, Le(7u, 31u, 0x20000u, 0x1000_0000u, 0u, new byte[44]));

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("init-lookup-getattr", Seed(0)
            .Chain((Init, false), (Room(16 + 64), true))
            .Chain((Request(1, 2, 1, Le("a\0")), false), (Room(16 + 128), true))
            .Chain((Request(3, 3, 1, Le(0u, 0u, 0ul)), false), (Room(16 + 104), true)).Build());
        yield return new("init-create-write", Seed(0)
            .Chain((Init, false), (Room(16 + 64), true))
            .Chain((Request(35, 2, 1, Le(0x41u, 0x1A4u, 0x12u, 0u, "f\0")), false), (Room(16 + 128 + 16), true))
            .Chain((Request(16, 3, 2, Le(0ul, 0ul, 5u, 0u, 0ul, 0u, 0u, "hello")), false), (Room(16 + 8), true)).Build());
        yield return new("init-mkdir-readdir", Seed(0)
            .Chain((Init, false), (Room(16 + 64), true))
            .Chain((Request(9, 2, 1, Le(0x1EDu, 0u, "d\0")), false), (Room(16 + 128), true))
            .Chain((Request(27, 3, 1, Le(0u, 0u)), false), (Room(16 + 16), true))
            .Chain((Request(44, 4, 1, Le(0ul, 0ul, 4096u, 0u, 0ul, 0u, 0u)), false), (Room(16 + 4096), true)).Build());
    }
}
