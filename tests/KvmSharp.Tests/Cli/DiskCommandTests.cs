using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Cli;

/// <summary>--disk parsing, and <c>kvmsharp image create|info|check</c> as processes checked by qemu-img.</summary>
public sealed class DiskCommandTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void DiskOptionsParseEveryKey()
    {
        Assert.True(DiskOption.TryParse("a.qcow2,format=qcow2,readonly=on,serial=root-1", out var disk, out string error), error);
        Assert.Equal(new DiskConfig(Path.GetFullPath("a.qcow2"), DiskFormat.Qcow2, true, "root-1"), disk);
        Assert.True(DiskOption.TryParse("b.img", out disk, out error), error);
        Assert.Equal(new DiskConfig(Path.GetFullPath("b.img")), disk);
    }

    [Theory]
    [InlineData("a.img,format=vmdk", "use raw or qcow2")]
    [InlineData("a.img,serial=ABCDEFGHIJKLMNOPQRSTU", "at most 20")]
    [InlineData("a.img,readonly=maybe", "use on or off")]
    [InlineData("format=raw", "path comes first")]
    [InlineData("a.img,cache=none", "unknown key")]
    public void BadDiskOptionsSayWhy(string text, string expected)
    {
        Assert.False(DiskOption.TryParse(text, out _, out string error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void BadOrMissingDisksAreOneLineErrors()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", "demo", "--disk", "x.img,format=vmdk");
        Assert.NotEqual(0, code);
        Assert.Contains("use raw or qcow2", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        (code, _, stderr) = CliProcess.Run("run", "--kernel", "demo", "--disk", _scratch.PathOf("missing.img"));
        Assert.Equal(1, code);
        Assert.Contains("missing.img' does not exist", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void CreatedImagesPassQemuCheckAndInfoReadsThem()
    {
        string base_ = _scratch.PathOf("base.qcow2");
        var (code, _, stderr) = CliProcess.Run("image", "create", base_, "64M");
        Assert.True(code == 0, stderr);
        _scratch.AssertQemuCheckClean(base_);
        string overlay = _scratch.PathOf("overlay.qcow2");
        (code, _, stderr) = CliProcess.Run("image", "create", overlay, "--backing", "base.qcow2");
        Assert.True(code == 0, stderr);
        _scratch.AssertQemuCheckClean(overlay);
        Assert.Contains("\"backing-filename\": \"base.qcow2\"", _scratch.QemuImgOk("info", "--output=json", overlay));

        (code, string stdout, stderr) = CliProcess.Run("image", "info", overlay);
        Assert.True(code == 0, stderr);
        Assert.Contains("format:       qcow2", stdout);
        Assert.Contains("virtual size: 67108864 bytes", stdout);
        Assert.Contains("backing file: base.qcow2 (qcow2)", stdout);

        string raw = _scratch.PathOf("disk.raw");
        (code, _, stderr) = CliProcess.Run("image", "create", raw, "3M", "--format", "raw");
        Assert.True(code == 0, stderr);
        Assert.Equal(3 << 20, new FileInfo(raw).Length);
        (code, _, stderr) = CliProcess.Run("image", "create", raw, "3M", "--format", "raw");
        Assert.Equal(1, code);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void CheckExitsNonZeroOnlyOnCorruption()
    {
        string image = _scratch.PathOf("qemu.qcow2");
        _scratch.QemuImgOk("create", "-f", "qcow2", image, "8M");
        var (code, stdout, stderr) = CliProcess.Run("image", "check", image);
        Assert.True(code == 0, stderr);
        Assert.Contains("No errors were found", stdout);
        // Zero the refcount of cluster 0 (the header): qemu-img create puts the refcount block at 0x20000
        // with 16-bit entries (its default layout, checked by qemu-img check failing below).
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(file, new byte[2], 0x20000);
        Assert.NotEqual(0, _scratch.QemuImg("check", image).Code);
        (code, stdout, _) = CliProcess.Run("image", "check", image);
        Assert.Equal(2, code);
        Assert.Contains("1 corruptions", stdout);
    }
}
