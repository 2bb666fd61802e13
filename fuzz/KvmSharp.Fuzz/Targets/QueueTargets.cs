using System.Buffers.Binary;
using KvmSharp.Devices.Firmware;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Fuzz.Targets;

/// <summary>2 MiB of guest RAM for the whole run, made on first use (after SharpFuzz has set up its coverage map).</summary>
internal static class QueueMemory
{
    public static readonly GuestMemory Instance = GuestMemory.Create(2 << 20);
}

/// <summary>
/// The split virtqueue (virtio 1.2 §2.7) over guest bytes: input bytes 0-1 the queue size, 2 EVENT_IDX, 3-8 the
/// descriptor table, driver and device ring offsets (u16 each, any alignment) inside a 32 KiB arena that the rest
/// of the input fills. Enable, then pop and walk every chain (the ring is not rewritten meanwhile, unlike the test's
/// loop; afl's mutations give the variety). Expected: <see cref="VirtQueueException"/>.
/// </summary>
public sealed class VirtQueueTarget : FuzzTarget
{
    private const int Arena = 0x8000;
    private static GuestMemory Memory => QueueMemory.Instance;

    public override string Name => "virtqueue";
    public override string Description => "split virtqueue rings and descriptor chains, direct and indirect (Devices/Virtio/Queue)";
    public override bool IsExpected(Exception exception) => exception is VirtQueueException;

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length < 9) return;
        var arena = Memory.GetSpan(new GuestAddress(0), Arena);
        arena.Clear();
        input[9..][..Math.Min(Arena, input.Length - 9)].CopyTo(arena);
        ushort size = BinaryPrimitives.ReadUInt16LittleEndian(input);
        var queue = new VirtQueue(Memory);
        queue.Enable(size, At(input, 3), At(input, 5), At(input, 7), eventIdx: (input[2] & 1) != 0);
        Span<Descriptor> buffers = stackalloc Descriptor[64];
        for (int pop = 0; pop < size + 4 && queue.TryPopAvailable(out var chain); pop++)
        {
            if ((pop & 1) == 0)
            {
                while (chain.TryNext(out var d))
                    if (!Memory.IsValidRange(d.Address, d.Length)) throw new FuzzFinding($"descriptor {d.Address}+{d.Length} outside RAM was handed out");
            }
            else chain.CopyTo(buffers);
            queue.AddUsed(chain.Head, 0);
            queue.NeedsInterrupt();
        }
    }

    private static GuestAddress At(ReadOnlySpan<byte> input, int offset) => new(BinaryPrimitives.ReadUInt16LittleEndian(input[offset..]));

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // Size 4: table at 0x100, avail at 0x200, used at 0x300; two chains, the second through an indirect table at 0x400.
        var seed = new byte[9 + 0x500];
        BinaryPrimitives.WriteUInt16LittleEndian(seed, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(seed.AsSpan(3), 0x100);
        BinaryPrimitives.WriteUInt16LittleEndian(seed.AsSpan(5), 0x200);
        BinaryPrimitives.WriteUInt16LittleEndian(seed.AsSpan(7), 0x300);
        var a = seed.AsSpan(9);
        Desc(a[0x100..], 0x1000, 16, 1, 1);
        Desc(a[0x110..], 0x2000, 512, 2, 0);
        Desc(a[0x120..], 0x400, 32, 4, 0);
        Desc(a[0x400..], 0x3000, 16, 1, 1);
        Desc(a[0x410..], 0x4000, 64, 2, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(a[0x202..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(a[0x204..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(a[0x206..], 2);
        yield return new("direct-and-indirect", seed);
    }

    private static void Desc(Span<byte> at, ulong address, uint length, ushort flags, ushort next)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(at, address);
        BinaryPrimitives.WriteUInt32LittleEndian(at[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(at[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(at[14..], next);
    }
}

/// <summary>
/// fw_cfg's I/O ports and DMA (QEMU's docs/specs/fw_cfg.rst): input bytes 0-255 go to guest RAM at 0x1000 (where
/// the DMA descriptors are), then 9-byte operations: an op byte and a 64-bit argument. Nothing may escape.
/// </summary>
public sealed class FwCfgTarget : FuzzTarget
{
    private static GuestMemory Memory => QueueMemory.Instance;

    public override string Name => "fw-cfg";
    public override string Description => "fw_cfg selector, data port and DMA descriptors (Devices/Firmware FwCfg)";
    public override bool IsExpected(Exception exception) => false;

    public override void Run(ReadOnlySpan<byte> input)
    {
        var fwCfg = new FwCfg(Memory);
        fwCfg.AddItem(0x05, [1, 0, 0, 0, 0, 0, 0, 0]);
        fwCfg.AddFile("etc/table-loader", new byte[128]);
        fwCfg.AddFile("etc/writable", new byte[64], guestWritable: true);
        var ram = Memory.GetSpan(new GuestAddress(0x1000), 256);
        ram.Clear();
        input[..Math.Min(256, input.Length)].CopyTo(ram);
        Span<byte> data = stackalloc byte[8];
        for (int at = 256; at + 9 <= input.Length; at += 9)
        {
            ulong argument = BinaryPrimitives.ReadUInt64LittleEndian(input[(at + 1)..]);
            switch (input[at] % 6)
            {
                case 0:   // select a key
                    BinaryPrimitives.WriteUInt16LittleEndian(data, (ushort)argument);
                    fwCfg.Write(0, data[..2]);
                    break;
                case 1:   // read the data port, 1-8 bytes
                    fwCfg.Read(1, data[..(int)(argument % 8 + 1)]);
                    break;
                case 2:   // a 64-bit DMA address write (big-endian, as the guest writes it)
                    BinaryPrimitives.WriteUInt64BigEndian(data, argument);
                    fwCfg.Write(4, data);
                    break;
                case 3:   // the high then low 32-bit DMA address writes
                    BinaryPrimitives.WriteUInt32BigEndian(data, (uint)(argument >> 32));
                    fwCfg.Write(4, data[..4]);
                    BinaryPrimitives.WriteUInt32BigEndian(data, (uint)argument);
                    fwCfg.Write(8, data[..4]);
                    break;
                case 4:   // read anything in the port range at any width
                    fwCfg.Read(argument % FwCfg.PortCount, data[..(int)((argument >> 8) % 8 + 1)]);
                    break;
                default:  // write anything in the port range at any width
                    fwCfg.Write(argument % FwCfg.PortCount, data[..(int)((argument >> 8) % 8 + 1)]);
                    break;
            }
        }
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        // A DMA descriptor at 0x1000: select the file directory (0x19), read 64 bytes to 0x2000; then the writable file.
        var seed = new byte[256 + 9 * 3];
        BinaryPrimitives.WriteUInt32BigEndian(seed, (0x19u << 16) | 8 | 2);
        BinaryPrimitives.WriteUInt32BigEndian(seed.AsSpan(4), 64);
        BinaryPrimitives.WriteUInt64BigEndian(seed.AsSpan(8), 0x2000);
        BinaryPrimitives.WriteUInt32BigEndian(seed.AsSpan(16), (0x22u << 16) | 8 | 16);
        BinaryPrimitives.WriteUInt32BigEndian(seed.AsSpan(20), 8);
        BinaryPrimitives.WriteUInt64BigEndian(seed.AsSpan(24), 0x1000);
        seed[256] = 2; BinaryPrimitives.WriteUInt64LittleEndian(seed.AsSpan(257), 0x1000);
        seed[265] = 3; BinaryPrimitives.WriteUInt64LittleEndian(seed.AsSpan(266), 0x1010);
        seed[274] = 1; BinaryPrimitives.WriteUInt64LittleEndian(seed.AsSpan(275), 7);
        yield return new("dma-directory-and-write", seed);
    }
}
