using KvmSharp.Bench.VirtioBlk;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Storage;

// virtio-blk from the host side: a synthetic driver keeps 256 requests in flight against an image on tmpfs.
// Usage: dotnet run -c Release --project bench/virtio-blk -- [--dir /dev/shm] [--size-mib 1024] [--seconds 3]
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

const uint In = 0, Out = 1;
long size = sizeMiB << 20;
var random = new Random(1);
var workloads = new (string Name, int BlockSize, uint Type, bool Sequential)[]
{
    ("1 MiB sequential write", 1 << 20, Out, true),
    ("1 MiB sequential read", 1 << 20, In, true),
    ("4 KiB random write", 4096, Out, false),
    ("4 KiB random read", 4096, In, false),
};

Console.WriteLine($"virtio-blk, host-side driver, queue size {SyntheticDriver.QueueSize} (all in flight), {sizeMiB} MiB image in {dir}, {seconds} s per row");
Console.WriteLine($"{"format",-6} {"workload",-24} {"requests/s",12} {"GiB/s",8}");
foreach (string format in new[] { "raw", "qcow2" })
{
    string path = Path.Combine(dir, $"kvmsharp-bench-{Environment.ProcessId}.{format}");
    try
    {
        if (format == "raw") using (var f = File.Create(path)) f.SetLength(size);
        else Qcow2Creator.Create(path, size);
        foreach (var w in workloads)
        {
            using var driver = new SyntheticDriver(w.BlockSize);
            random.NextBytes(driver.Memory.GetSpan(new KvmSharp.Memory.GuestAddress(0x10_0000), w.BlockSize * SyntheticDriver.QueueSize));
            using var device = VirtioBlockDevice.Open(path, format, readOnly: false, serial: null, Console.Error.WriteLine);
            driver.Activate(device);
            long blocks = size / w.BlockSize, position = 0;
            var (requests, elapsed) = driver.Run(() =>
            {
                long block = w.Sequential ? position++ % blocks : random.NextInt64(blocks);
                return (w.Type, (ulong)(block * w.BlockSize / 512));
            }, TimeSpan.FromSeconds(seconds));
            device.Reset();
            double perSecond = requests / elapsed;
            Console.WriteLine($"{format,-6} {w.Name,-24} {perSecond,12:N0} {perSecond * w.BlockSize / (1L << 30),8:F2}");
        }
    }
    finally
    {
        File.Delete(path);
    }
}
return 0;
