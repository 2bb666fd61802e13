using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Devices.Virtio.Block;

/// <summary>
/// Random request chains, from Linux-shaped to garbage (odd lengths, wrong directions, huge lengths,
/// addresses past RAM, loops, random headers and segment lists), on a real queue. Every case must end with
/// each chain answered or the device marked NEEDS_RESET for a guest reason: never an exception out of the
/// request code (the device reports those as "unexpected") and never a hang. Seeded;
/// KVMSHARP_FUZZ_CASES=N runs N cases instead of the CI default.
/// </summary>
public sealed class VirtioBlockFuzzTests : IDisposable
{
    private const int Seed = 0x0B1C_0005;
    private const ulong Ram = 4 << 20;
    private const int DiskSize = 256 << 10;

    private static readonly int Count =
        int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_FUZZ_CASES"), out int n) && n > 0 ? n : 300;

    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void RandomChainsAreAnsweredOrBreakTheDeviceNeverCrashIt()
    {
        string path = _scratch.PathOf("fuzz.raw");
        File.WriteAllBytes(path, new byte[DiskSize]);
        using var device = VirtioBlockDevice.Open(path, "raw", readOnly: false, "fuzz", _ => { });
        using var driver = new MockVirtqDriver(16, Ram);
        using var notifier = new EventNotifier();
        var outcomes = new int[2];   // all answered, device broken
        for (int i = 0; i < Count; i++)
        {
            var random = new Random(Seed + i);
            driver.Queue.Reset();
            driver.Memory.GetSpan(new GuestAddress(MockVirtqDriver.AvailAddress), 0x2_0000).Clear();   // both rings
            driver.SetAvailIdx(0);
            driver.Enable(eventIdx: random.Next(2) == 0);
            int chains = random.Next(1, 4);
            for (int c = 0; c < chains; c++) driver.Publish(RandomChain(driver, random, c));

            var interrupts = new RecordingInterrupts();
            device.Activate(new VirtioActivation(driver.Memory, device.DeviceFeatures, [driver.Queue], [notifier], interrupts));
            notifier.Signal();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (driver.UsedIdx != chains && interrupts.NeedsResetReason is null)
            {
                Assert.True(DateTime.UtcNow < deadline, $"fuzz case {i} (seed {Seed + i}) hung: {driver.UsedIdx} of {chains} answered");
                Thread.Sleep(1);
            }
            device.Reset();
            string? reason = interrupts.NeedsResetReason;
            Assert.False(reason?.Contains("unexpected") ?? false, $"fuzz case {i} (seed {Seed + i}): {reason}");
            outcomes[reason is null ? 0 : 1]++;
        }
        Assert.All(outcomes, count => Assert.True(count > Count / 20, $"outcomes {string.Join(", ", outcomes)}"));
    }

    /// <summary>Writes one random chain of 1–5 descriptors at slots 5c.. and returns its head.</summary>
    private static ushort RandomChain(MockVirtqDriver driver, Random random, int c)
    {
        int count = random.Next(1, 6);
        ushort head = (ushort)(c * 5);
        ulong buffer = 0x10_0000 + (ulong)c * 0x10_0000;
        for (int d = 0; d < count; d++)
        {
            bool last = d == count - 1;
            uint length = random.Next(8) switch
            {
                0 => 1,
                1 => 16,
                2 => (uint)random.Next(0, 40),
                3 => 512 * (uint)random.Next(1, 9),
                4 => uint.MaxValue - (uint)random.Next(100),
                _ => (uint)random.Next(0, 0x4000),
            };
            ulong address = random.Next(10) == 0 ? (ulong)random.NextInt64() : buffer;
            // Mostly readable-then-writable (a driver's order), sometimes any order.
            bool writable = random.Next(6) == 0 ? random.Next(2) == 0 : d >= count / 2 && d > 0;
            ushort flags = (ushort)((writable ? MockVirtqDriver.Flags.Write : 0) | (last && random.Next(20) != 0 ? 0 : MockVirtqDriver.Flags.Next));
            ushort next = random.Next(15) == 0 ? (ushort)random.Next(16) : (ushort)(head + d + 1);
            driver.SetDescriptor(head + d, address, length, flags, next);
            if (d == 0 && address == buffer) WriteRandomHeader(driver.Memory, random, buffer);
            buffer += 0x8000;
        }
        return head;
    }

    private static void WriteRandomHeader(GuestMemory memory, Random random, ulong at)
    {
        uint[] types = [0, 1, 4, 8, 11, 13, (uint)random.Next()];
        memory.Write(new GuestAddress(at), types[random.Next(types.Length)]);
        memory.Write(new GuestAddress(at + 8), random.Next(4) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(0, DiskSize / 512 + 4));
        // A segment list after the header for DISCARD/WRITE_ZEROES: plausible or not.
        for (int s = 0; s < 4; s++)
        {
            memory.Write(new GuestAddress(at + 16 + 16ul * (ulong)s), (ulong)random.Next(0, DiskSize / 512 + 4));
            memory.Write(new GuestAddress(at + 24 + 16ul * (ulong)s), (uint)random.Next(0, 64));
            memory.Write(new GuestAddress(at + 28 + 16ul * (ulong)s), (uint)random.Next(3));
        }
    }
}
