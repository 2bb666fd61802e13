using System.Diagnostics;
using System.Text;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;

namespace KvmSharp.Tests.Images;

/// <summary>The NoCloud seed: an ISO 9660 volume labelled cidata whose Rock Ridge names are user-data and meta-data, read back with isoinfo.</summary>
public sealed class CloudInitSeedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-seed-test").FullName;

    [Fact]
    public void TheSeedIsLabelledCidataAndHoldsBothFiles()
    {
        string userData = Path.Combine(_dir, "u.yaml"), seed = Path.Combine(_dir, "seed.iso");
        File.WriteAllText(userData, "#cloud-config\npassword: kvmsharp\nchpasswd: { expire: false }\n");
        CloudInitSeed.Write(seed, userData, metaDataPath: null);

        // The primary volume descriptor is sector 16 (2048-byte sectors); its volume identifier is at offset 40 (ECMA-119 §8.4).
        byte[] iso = File.ReadAllBytes(seed);
        Assert.Equal("CD001", Encoding.ASCII.GetString(iso, 16 * 2048 + 1, 5));
        Assert.Equal("cidata", Encoding.ASCII.GetString(iso, 16 * 2048 + 40, 32).TrimEnd());
        Assert.Equal(File.ReadAllText(userData), IsoFile(seed, "/user-data"));
        Assert.StartsWith("instance-id: kvmsharp-", IsoFile(seed, "/meta-data"));
    }

    [Fact]
    public void AMissingUserDataFileIsOneLine()
    {
        var e = Assert.Throws<GuestImageException>(() => CloudInitSeed.Write(Path.Combine(_dir, "x.iso"), Path.Combine(_dir, "absent"), null));
        Assert.Contains("cannot read the user-data file", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    private static string IsoFile(string iso, string path)
    {
        var start = new ProcessStartInfo("isoinfo") { RedirectStandardOutput = true };
        foreach (var a in new[] { "-R", "-i", iso, "-x", path }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return text;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
