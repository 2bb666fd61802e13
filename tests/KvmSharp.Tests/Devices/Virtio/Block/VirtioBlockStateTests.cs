using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices.Virtio.Block;

public sealed class VirtioBlockStateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-blkstate").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Disk(long size)
    {
        string path = Path.Combine(_dir, $"disk-{Guid.NewGuid():N}.raw");
        using (var f = File.Create(path)) f.SetLength(size);
        return path;
    }

    [Fact]
    public void TheStateMatchesTheSameDiskAndRefusesAnotherSizeOrWritability()
    {
        string path = Disk(1 << 20);
        VirtioBlockState saved;
        using (var device = VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { }))
            saved = StateFuzz.RoundTrip(device.SaveState());
        Assert.Equal(2048ul, saved.CapacitySectors);

        using (var same = VirtioBlockDevice.Open(path, "raw", readOnly: false, null, _ => { }))
            same.RestoreState(saved);
        using (var readOnly = VirtioBlockDevice.Open(path, "raw", readOnly: true, null, _ => { }))
            Assert.StartsWith("block.DeviceFeatures:", Assert.Throws<StateException>(() => readOnly.RestoreState(saved)).Message);
        using (var bigger = VirtioBlockDevice.Open(Disk(2 << 20), "raw", readOnly: false, null, _ => { }))
            Assert.StartsWith("block.CapacitySectors:", Assert.Throws<StateException>(() => bigger.RestoreState(saved)).Message);
    }

    [Fact]
    public void APauseLeavesNoRequestHalfDoneAndTheRestWaitForResume()
    {
        using var h = new BlockDeviceHarness(VirtioBlockDevice.Open(Disk(8 << 20), "raw", readOnly: false, null, _ => { }));
        var data = new byte[64 * 1024];
        Random.Shared.NextBytes(data);
        // Many writes in the ring at once: the pause lands somewhere among them.
        var heads = new List<(ushort Head, ulong Status)>();
        for (int i = 0; i < 32; i++)
        {
            ushort head = h.Driver.AddChain(out var at, (16, false), ((uint)data.Length, false), (1, true));
            h.WriteHeader(at[0], BlockDeviceHarness.Out, (ulong)i * 128);
            h.Memory.Write(new GuestAddress(at[1]), data);
            h.Memory.Write(new GuestAddress(at[2]), (byte)0xEE);
            heads.Add((head, at[2]));
            h.Driver.Publish(head);
        }
        h.Notify();
        h.Device.Pause();
        ushort done = h.Driver.UsedIdx;
        var log = new DirtyPageBitmap(h.Memory.Regions);
        h.Memory.StartWriteLog(log);
        // Every request answered so far is whole; none after it has a status yet.
        for (int i = 0; i < heads.Count; i++)
            Assert.Equal(i < done ? BlockDeviceHarness.Ok : (byte)0xEE, h.Memory.Read<byte>(new GuestAddress(heads[i].Status)));
        Thread.Sleep(50);
        Assert.Equal(done, h.Driver.UsedIdx);
        Assert.Equal(0, log.Count());
        h.Memory.StopWriteLog();

        h.Device.Resume();
        BlockDeviceHarnessWait.UntilUsed(h, (ushort)heads.Count);
        foreach (var (_, status) in heads) Assert.Equal(BlockDeviceHarness.Ok, h.Memory.Read<byte>(new GuestAddress(status)));
    }
}

internal static class BlockDeviceHarnessWait
{
    public static void UntilUsed(BlockDeviceHarness h, ushort count) =>
        Assert.True(SpinWait.SpinUntil(() => h.Driver.UsedIdx == count, TimeSpan.FromSeconds(20)), $"used idx {h.Driver.UsedIdx}, expected {count}");
}
