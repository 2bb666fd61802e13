using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>
/// Random queue states and descriptor tables, from honest-looking to garbage, with the guest rewriting bytes
/// between device steps. Whatever the guest wrote, every call must return and the only exception allowed out
/// is <see cref="VirtQueueException"/>. Seeded, so a failure names a case that reproduces;
/// KVMSHARP_FUZZ_CASES=N runs N cases instead of the CI default.
/// </summary>
public class VirtQueueFuzzTests
{
    private const ulong Ram = 2 << 20;
    private const int Arena = 0x8000;   // rings, tables and indirect tables land in the first 32 KiB
    private const int Seed = 0x5EED_0105;

    private static readonly int Count =
        int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_FUZZ_CASES"), out int n) && n > 0 ? n : 2000;

    [Fact]
    public void NoGuestStateEscapesAsAnythingButVirtQueueException()
    {
        using var memory = GuestMemory.Create(Ram);
        var outcomes = new int[3];   // rejected at enable, rejected later, ran clean
        for (int i = 0; i < Count; i++)
        {
            var random = new Random(Seed + i);
            try
            {
                outcomes[RunCase(memory, random)]++;
            }
            catch (Exception e) when (e is not VirtQueueException)
            {
                Assert.Fail($"fuzz case {i} (seed {Seed + i}) let {e.GetType().Name} escape: {e}");
            }
        }
        // The generator must reach every kind of outcome, or the fuzz test is not testing the walk.
        Assert.All(outcomes, count => Assert.True(count > Count / 50, $"outcomes {string.Join(", ", outcomes)}"));
    }

    /// <summary>One random queue driven until it is empty or broken: 0 = rejected at enable, 1 = rejected later, 2 = clean.</summary>
    private static int RunCase(GuestMemory memory, Random random)
    {
        ushort size = random.Next(10) == 0 ? (ushort)random.Next(0, 0x1_0000) : (ushort)(1 << random.Next(0, 7));
        ushort tableEntries = (ushort)Math.Clamp((int)size, 1, 64);
        var desc = RingAddress(random, 16);
        var avail = RingAddress(random, 2);
        var used = RingAddress(random, 4);
        bool honest = random.Next(3) != 0;
        FillArena(memory, random, tableEntries, honest);
        if (IsInArena(avail, 4))
            memory.Write(avail + 2, (ushort)(random.Next(4) == 0 ? random.Next(0x1_0000) : random.Next(0, tableEntries + 2)));

        var queue = new VirtQueue(memory);
        try
        {
            queue.Enable(size, desc, avail, used, eventIdx: random.Next(2) == 0);
        }
        catch (VirtQueueException)
        {
            return 0;
        }
        Span<Descriptor> buffers = stackalloc Descriptor[64];
        try
        {
            // Never more pops than a queue's worth plus a few: avail idx can be at most size ahead.
            for (int pop = 0; pop < size + 4 && queue.TryPopAvailable(out var chain); pop++)
            {
                if (random.Next(2) == 0)
                    WalkLazily(memory, ref chain, size);
                else
                    chain.CopyTo(buffers);
                queue.AddUsed(chain.Head, (uint)random.Next());
                queue.NeedsInterrupt();
                if (random.Next(4) == 0)
                    Scribble(memory, random);   // the guest rewrites its rings and tables under us
            }
            return 2;
        }
        catch (VirtQueueException)
        {
            return 1;
        }
    }

    /// <summary>Walks descriptor by descriptor, failing if the walk runs longer than any bounded walk can.</summary>
    private static void WalkLazily(GuestMemory memory, ref DescriptorChain chain, ushort size)
    {
        int limit = size + 0x1_0000;   // queue-size descriptors, then at most one indirect table's worth
        int steps = 0;
        while (chain.TryNext(out var descriptor))
        {
            Assert.True(++steps <= limit, "descriptor walk did not end");
            Assert.True(memory.IsValidRange(descriptor.Address, descriptor.Length));   // what the device may touch
        }
    }

    private static GuestAddress RingAddress(Random random, int alignment) => random.Next(40) switch
    {
        0 => new GuestAddress(Ram - (ulong)random.Next(0, 64)),                 // at or past the end of RAM
        1 => new GuestAddress(ulong.MaxValue - (ulong)random.Next(0, 64)),      // arithmetic overflows
        2 => new GuestAddress((ulong)random.Next(0, Arena)),                   // likely misaligned
        _ => new GuestAddress((ulong)(random.Next(0, Arena / alignment) * alignment)),
    };

    private static bool IsInArena(GuestAddress address, int length) => address.Value <= (ulong)(Arena - length);

    /// <summary>
    /// Fills the arena with either raw noise or a plausible table whose every field has a chance to be wrong:
    /// flags mixing NEXT/WRITE/INDIRECT, next near the table's end, buffers near or past the end of RAM.
    /// </summary>
    private static void FillArena(GuestMemory memory, Random random, int entries, bool honest)
    {
        var arena = memory.GetSpan(new GuestAddress(0), Arena);
        random.NextBytes(arena);
        if (!honest) return;
        for (int offset = 0; offset + 16 <= Arena; offset += 16)
        {
            var entry = arena.Slice(offset, 16);
            ulong address = random.Next(64) switch
            {
                0 => Ram - (ulong)random.Next(0, 32),
                1 => ulong.MaxValue - (ulong)random.Next(0, 32),
                < 16 => (ulong)(random.Next(0, Arena / 16) * 16),               // possibly an indirect table
                _ => (ulong)random.Next(0, (int)Ram - 0x1_0000),
            };
            uint length = random.Next(64) switch
            {
                0 => 0,
                1 => uint.MaxValue - (uint)random.Next(0, 32),
                < 16 => (uint)(random.Next(1, 8) * 16),                         // indirect-sized
                _ => (uint)random.Next(0, 4096),
            };
            ushort flags = (ushort)(random.Next(64) == 0 ? random.Next(0x1_0000)
                : (random.Next(2) * DescriptorNext) | (random.Next(4) == 0 ? DescriptorWrite : 0) | (random.Next(12) == 0 ? DescriptorIndirect : 0));
            ushort next = (ushort)(random.Next(64) == 0 ? random.Next(0x1_0000) : random.Next(0, entries + 1));
            BitConverter.TryWriteBytes(entry, address);
            BitConverter.TryWriteBytes(entry[8..], length);
            BitConverter.TryWriteBytes(entry[12..], flags);
            BitConverter.TryWriteBytes(entry[14..], next);
        }
    }

    private const int DescriptorNext = 1, DescriptorWrite = 2, DescriptorIndirect = 4;

    private static void Scribble(GuestMemory memory, Random random)
    {
        var at = new GuestAddress((ulong)random.Next(0, Arena - 8));
        memory.Write(at, (ulong)random.NextInt64());
    }
}
