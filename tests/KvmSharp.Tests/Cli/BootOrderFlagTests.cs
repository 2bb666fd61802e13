using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Cli;

/// <summary><c>--disk …,boot=N</c>, <c>--net …,boot=N</c> and <c>--boot-strict</c> as processes: printed in the config, one line for each mistake.</summary>
public sealed class BootOrderFlagTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-cli-boot").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Print_config_shows_each_disks_boot_index_and_strict_boot()
    {
        string data = Path.Combine(_dir, "data.img"), system = Path.Combine(_dir, "system.img");
        var (code, stdout, stderr) = CliProcess.Run("run", "--firmware", "bios", "--boot-strict",
            "--disk", $"{data},format=raw", "--disk", $"{system},format=raw,boot=1", "--print-config");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}");
        var config = MachineConfigJson.Read(stdout);
        Assert.Equal([null, 1], config.Disks.Select(d => d.BootIndex));
        Assert.True(config.Firmware!.StrictBoot);
        Assert.Contains("\"boot_index\": 1", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--kernel", "demo", "--disk", "/tmp/a.img,boot=1" }, "kvmsharp: error: --disk: needs firmware (--firmware bios or uefi): a kernel loaded directly boots from no disk")]
    [InlineData(new[] { "--firmware", "bios", "--disk", "/tmp/a.img,boot=1", "--disk", "/tmp/b.img,boot=1" }, "kvmsharp: error: --disk: boot index 1 is given twice: each device needs its own")]
    [InlineData(new[] { "--firmware", "bios", "--disk", "/tmp/a.img,boot=0" }, "kvmsharp: error: --disk: 0 is not a boot index")]
    [InlineData(new[] { "--firmware", "bios", "--disk", "/tmp/a.img,boot=one" }, "--disk /tmp/a.img,boot=one: boot=one: give the device's place in the boot order as a number")]
    [InlineData(new[] { "--firmware", "uefi", "--net", "user,boot=1" }, "kvmsharp: error: --net: a NIC cannot boot here")]
    [InlineData(new[] { "--kernel", "demo", "--boot-strict" }, "kvmsharp: error: --boot-strict says which disks the firmware may boot; it needs --firmware bios or uefi")]
    public void Bad_boot_flags_are_one_clear_error(string[] flags, string expected)
    {
        var (code, _, stderr) = CliProcess.Run(["run", .. flags, "--print-config"]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
