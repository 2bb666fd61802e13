using System.Diagnostics;

namespace KvmSharp.Tests.Storage;

/// <summary>A temporary folder for image files, plus qemu-img (Debian's qemu-utils) as the outside checker.</summary>
public sealed class StorageScratch : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("kvmsharp-storage").FullName;

    public string PathOf(string name) => Path.Combine(Dir, name);

    public (int Code, string Stdout, string Stderr) QemuImg(params string[] arguments)
    {
        var start = new ProcessStartInfo("qemu-img") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Dir };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs qemu-img and fails the test with its output when it does not succeed.</summary>
    public string QemuImgOk(params string[] arguments)
    {
        var (code, stdout, stderr) = QemuImg(arguments);
        Assert.True(code == 0, $"qemu-img {string.Join(' ', arguments)} exited {code}: {stdout} {stderr}");
        return stdout;
    }

    /// <summary>qemu-img's own consistency check (refcounts, leaks, overlaps) must find nothing.</summary>
    public void AssertQemuCheckClean(string image)
    {
        var (code, stdout, stderr) = QemuImg("check", "-f", "qcow2", image);
        Assert.True(code == 0, $"qemu-img check {image} exited {code}: {stdout} {stderr}");
        Assert.Contains("No errors were found", stdout);
    }

    /// <summary>qemu-img finds the image consistent and reads exactly <paramref name="expected"/> from it.</summary>
    public void AssertQemuAgrees(string image, byte[] expected)
    {
        AssertQemuCheckClean(image);
        Assert.Equal(expected, QemuRawBytes(image));
    }

    /// <summary>Writes <paramref name="data"/> to a raw file and has qemu-img convert it to a qcow2 image at <paramref name="image"/>.</summary>
    public void QemuQcow2From(byte[] data, string image, params string[] options)
    {
        string raw = PathOf($"source-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(raw, data);
        QemuImgOk(["convert", "-f", "raw", "-O", "qcow2", .. options, raw, image]);
        File.Delete(raw);
    }

    /// <summary>The image as qemu reads it, through qemu-img convert to raw.</summary>
    public byte[] QemuRawBytes(string image)
    {
        string raw = PathOf($"converted-{Guid.NewGuid():N}.raw");
        QemuImgOk("convert", "-O", "raw", image, raw);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary>
    /// Test data with the shapes that matter to an image format: random runs, compressible text-like runs,
    /// and whole zero clusters (which converters leave unallocated).
    /// </summary>
    public static byte[] Pattern(int length, int seed)
    {
        var random = new Random(seed);
        var data = new byte[length];
        for (int at = 0; at < length; at += 4096)
        {
            var block = data.AsSpan(at, Math.Min(4096, length - at));
            switch ((at / 4096 + seed) % 5)
            {
                case 0: random.NextBytes(block); break;
                case 1: for (int i = 0; i < block.Length; i++) block[i] = (byte)("kvmsharp qcow2 "[i % 15] + (at >> 12)); break;
                case 2: break;
                default: for (int i = 0; i < block.Length; i++) block[i] = (byte)(random.Next(4) + 'a'); break;
            }
        }
        // A stretch of zeros wider than any cluster size we test, so some clusters are never allocated.
        if (length > 4 << 20) data.AsSpan(2 << 20, 2 << 20).Clear();
        return data;
    }

    public static byte[] ReadAll(KvmSharp.Storage.IBlockBackend disk)
    {
        var bytes = new byte[disk.Size];
        disk.Read(0, bytes);
        return bytes;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
