using System.Diagnostics;
using KvmSharp.Storage;

// qcow2 4 KiB random I/O straight on the block backend (no device, no guest): what the L2 cache, the lock and the
// metadata ordering cost. Only the public API (Qcow2Creator, Qcow2Image), so the same program builds against an
// older tree for a before/after table.
// Usage: dotnet run -c Release --project bench/qcow2-io -- [--dir /dev/shm] [--size-mib 1024] [--seconds 3]
string dir = "/dev/shm";
long sizeMiB = 1024;
double seconds = 3;
for (int i = 0; i < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--dir": dir = args[i + 1]; break;
        case "--size-mib": sizeMiB = long.Parse(args[i + 1]); break;
        case "--seconds": seconds = double.Parse(args[i + 1]); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}

long size = sizeMiB << 20;
const int Block = 4096;
string path = Path.Combine(dir, $"kvmsharp-qcow2-io-{Environment.ProcessId}.qcow2");
Console.WriteLine($"qcow2 backend, {sizeMiB} MiB image (64 KiB clusters) in {dir}, {seconds} s per row, FLUSH every 256 writes");
Console.WriteLine($"{"workload",-42} {"requests/s",12} {"MiB/s",8}");
try
{
    Qcow2Creator.Create(path, size);
    using var disk = Qcow2Image.Open(path, readOnly: false);
    Row("4 KiB random write, allocating (fresh image)", 1, write: true, disk);
    // Fill the rest so the next rows touch allocated clusters only.
    var chunk = new byte[1 << 20];
    new Random(2).NextBytes(chunk);
    for (long at = 0; at < size; at += chunk.Length) disk.Write(at, chunk);
    disk.Flush();
    Row("4 KiB random write, allocated", 1, write: true, disk);
    Row("4 KiB random read, allocated", 1, write: false, disk);
    Row("4 KiB random read, allocated, 4 threads", 4, write: false, disk);
    Row("4 KiB random write, allocated, 4 threads", 4, write: true, disk);
}
finally
{
    File.Delete(path);
}
return 0;

void Row(string name, int threads, bool write, IBlockBackend disk)
{
    long total = 0;
    var clock = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
    {
        var random = new Random(10 + t);
        var buffer = new byte[Block];
        random.NextBytes(buffer);
        long blocks = disk.Size / Block, done = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (int i = 0; i < 256; i++)
            {
                long at = random.NextInt64(blocks) * Block;
                if (write) disk.Write(at, buffer); else disk.Read(at, buffer);
            }
            if (write) disk.Flush();
            done += 256;
        }
        Interlocked.Add(ref total, done);
    })).ToList();
    workers.ForEach(w => w.Start());
    workers.ForEach(w => w.Join());
    double perSecond = total / clock.Elapsed.TotalSeconds;
    Console.WriteLine($"{name,-42} {perSecond,12:N0} {perSecond * Block / (1 << 20),8:F1}");
}
