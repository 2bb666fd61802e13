using KvmSharp.Memory;

namespace KvmSharp.Tests.Memory;

/// <summary>Guest RAM written to a sparse memory file, mapped back copy-on-write, and the device write log.</summary>
public class GuestMemoryPersistenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-mem").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AMemoryFileKeepsEveryByteAndLeavesZeroPagesAsHoles()
    {
        using var memory = GuestMemory.Create(64UL << 20);
        memory.Write(new GuestAddress(0x1000), 0x1122334455667788UL);
        memory.Write(new GuestAddress((64UL << 20) - 8), 0xCAFEUL);
        for (ulong a = 0x200000; a < 0x280000; a += 4096) memory.Write(new GuestAddress(a + 17), (byte)((a >> 12) | 1));
        string path = Path.Combine(_dir, "mem");
        ulong written;
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
            written = memory.WriteTo(file);

        Assert.Equal(64L << 20, new FileInfo(path).Length);
        Assert.Equal((2UL + 128) * 4096, written);
        Assert.True(AllocatedBytes(path) < 4L << 20, $"the file should be sparse; {AllocatedBytes(path)} bytes allocated");

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        using var restored = GuestMemory.CreateFromFile(handle, 64UL << 20);
        Assert.Equal(0x1122334455667788UL, restored.Read<ulong>(new GuestAddress(0x1000)));
        Assert.Equal(0xCAFEUL, restored.Read<ulong>(new GuestAddress((64UL << 20) - 8)));
        Assert.Equal((byte)0x41, restored.Read<byte>(new GuestAddress(0x240000 + 17)));
        Assert.Equal(0UL, restored.Read<ulong>(new GuestAddress(0x300000)));
    }

    [Fact]
    public void WritesToRestoredMemoryNeverReachTheFile()
    {
        string path = Path.Combine(_dir, "mem");
        using (var memory = GuestMemory.Create(4UL << 20))
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            memory.Write(new GuestAddress(0x5000), 7u);
            memory.WriteTo(file);
        }
        byte[] before = File.ReadAllBytes(path);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
        using (var restored = GuestMemory.CreateFromFile(handle, 4UL << 20))
        {
            restored.Write(new GuestAddress(0x5000), 9u);
            restored.Write(new GuestAddress(0x9000), 9u);
            Assert.Equal(9u, restored.Read<uint>(new GuestAddress(0x5000)));
        }
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void RamAboveTheHoleKeepsItsPlaceInTheFile()
    {
        // 3.5 GiB: RAM below the PCI hole and above 4 GiB, two regions back to back in the file.
        ulong size = 3584UL << 20;
        using var memory = GuestMemory.Create(size);
        Assert.Equal(2, memory.Regions.Count);
        var high = memory.Regions[1].Start;
        memory.Write(high, 0xABCDUL);
        string path = Path.Combine(_dir, "mem");
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite)) memory.WriteTo(file);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        using var restored = GuestMemory.CreateFromFile(handle, size);
        Assert.Equal(0xABCDUL, restored.Read<ulong>(high));
        Assert.Equal(memory.Regions[0].Size, memory.FileOffsetOf(1));
    }

    [Fact]
    public void TheWriteLogMarksWrittenPagesOnly()
    {
        using var memory = GuestMemory.Create(8UL << 20);
        var log = new DirtyPageBitmap(memory.Regions);
        memory.StartWriteLog(log);
        memory.Write(new GuestAddress(0x3000), 1u);
        memory.Write(new GuestAddress(0x4FFE), 0xFFFFu);            // straddles two pages
        _ = memory.Read<uint>(new GuestAddress(0x8000));              // reads mark nothing
        memory.GetReadOnlySpan(new GuestAddress(0x9000), 16);
        memory.Discard(new GuestAddress(0x10000), 0x2000);             // discarded pages now read zero: dirty
        memory.StopWriteLog();
        memory.Write(new GuestAddress(0x20000), 1u);                   // after the log stopped: not marked
        Assert.Equal([0x3000UL, 0x4000, 0x5000, 0x10000, 0x11000], log.DirtyPages().Select(a => a.Value).ToArray());
        Assert.Equal(5, log.Count());
        log.Clear();
        Assert.Equal(0, log.Count());
    }

    private static long AllocatedBytes(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var parts = p.StandardOutput.ReadToEnd().Trim().Split(' ');
        p.WaitForExit();
        return long.Parse(parts[0]) * long.Parse(parts[1]);
    }
}
