using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>The JSON form of a config: a full round trip, snake_case names, and strict, one-line refusals.</summary>
public class MachineConfigJsonTests
{
    [Fact]
    public void EveryFieldRoundTrips()
    {
        var config = ConfigSamples.Full();
        string json = MachineConfigJson.Write(config);
        var back = MachineConfigJson.Read(json);
        Assert.Equal(config, back);
        Assert.Equal(json, MachineConfigJson.Write(back));
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void TheDefaultsRoundTripToo()
    {
        var config = new MachineConfig();   // the demo guest: no kernel, no devices
        Assert.Equal(config, MachineConfigJson.Read(MachineConfigJson.Write(config)));
        var normalized = ConfigSamples.FromFlags().Normalize();
        Assert.Equal(normalized, MachineConfigJson.Read(MachineConfigJson.Write(normalized)));
    }

    [Fact]
    public void AFieldLeftOutKeepsItsDefault()
    {
        Assert.Equal(new MachineConfig(), MachineConfigJson.Read("{\"format_version\": 1}"));
        Assert.Equal(new MachineConfig { VcpuCount = 2 }, MachineConfigJson.Read("{\"format_version\": 1, \"vcpu_count\": 2}"));
    }

    [Fact]
    public void NamesAreSnakeCaseAndEnumsAreStrings()
    {
        string json = MachineConfigJson.Write(ConfigSamples.Full());
        Assert.StartsWith("{\n  \"format_version\": 1,\n  \"memory_size\": 536870912,", json);
        foreach (string piece in (string[])["\"vcpu_count\": 4", "\"initrd_path\": \"/boot/initrd.img\"", "\"command_line\": \"console=ttyS0 quiet\"",
                     "\"accelerator\": \"emulate\"", "\"legacy_timer\": false", "\"instruction_count_shift\": 3", "\"debug_exit_port\": 244",
                     "\"kind\": \"socket\"", "\"socket_path\": \"/run/vm/com1.sock\"", "\"format\": \"qcow2\"", "\"read_only\": true",
                     "\"serial\": \"root-1\"", "\"id\": \"rootfs\"", "\"slot\": 9", "\"mac\": \"52:54:00:12:34:56\"", "\"guest_cid\": 42",
                     "\"uds_path\": \"/run/vm/v.sock\"", "\"virtio_console\": {", "\"kind\": \"pty\""])
            Assert.Contains(piece, json);
    }

    [Fact]
    public void AHandWrittenFileWithOnlyWhatItNeedsIsRead()
    {
        var config = MachineConfigJson.Read("""
            {
              "format_version": 1,
              "kernel": { "path": "/boot/vmlinuz" },
              "disks": [ { "id": "rootfs", "path": "/images/root.img" } ],
              "rng": {}
            }
            """);
        Assert.Equal(new MachineConfig
        {
            Kernel = new KernelConfig("/boot/vmlinuz"),
            Disks = [new DiskConfig("/images/root.img") { Id = "rootfs" }],
            Rng = new RngConfig(),
        }, config);
    }

    [Theory]
    [InlineData("""{"format_version": 1, "memroy_size": 1}""", "line 1, memroy_size: unknown field")]
    [InlineData("""{"format_version": 1, "disks": [{"path": "/a"}, {"path": "/b", "cache": "none"}]}""", "line 1, disks[1].cache: unknown field")]
    [InlineData("""{"format_version": 1, "kernel": {"path": "/k", "cmdline": ""}}""", "line 1, kernel.cmdline: unknown field")]
    [InlineData("""{"format_version": 1, "rng": {"rate": 5}}""", "line 1, rng.rate: unknown field")]
    public void UnknownFieldsAreRefusedByName(string json, string expected) => AssertRefused(json, expected);

    [Theory]
    [InlineData("""{"format_version": 2}""", "format_version 2 is not supported: this kvmsharp reads version 1")]
    [InlineData("""{"format_version": "1"}""", "format_version \"1\" is not supported: this kvmsharp reads version 1")]
    [InlineData("""{"format_version": 1.5}""", "format_version 1.5 is not supported: this kvmsharp reads version 1")]
    [InlineData("""{"memory_size": 1048576}""", "format_version is missing; this kvmsharp reads version 1 (add \"format_version\": 1)")]
    // A newer file's new fields are not reported one by one: its version is the problem.
    [InlineData("""{"format_version": 2, "gpu": {}}""", "format_version 2 is not supported: this kvmsharp reads version 1")]
    public void OtherVersionsAreRefused(string json, string expected) => AssertRefused(json, expected);

    [Theory]
    [InlineData("{\n  \"format_version\": 1,\n  \"vcpu_count\": 2,\n}", "line 4: ")]                      // trailing comma
    [InlineData("{\n  \"format_version\": 1,\n  \"vcpu_count\": 2", "line 3: ")]                        // cut short
    [InlineData("{\"format_version\": 1, // a comment\n}", "line 1: ")]
    [InlineData("", "line 1: ")]
    [InlineData("[]", "the config is a JSON array; it should be an object")]
    [InlineData("null", "the config is a JSON null; it should be an object")]
    [InlineData("{\"format_version\": 1,\n \"vcpu_count\": \"two\"}", "line 2, vcpu_count: a value of the wrong type, or out of its range")]
    [InlineData("{\"format_version\": 1,\n \"vcpu_count\": 1,\n \"vcpu_count\": 2}", "line 3, vcpu_count: given twice")]
    [InlineData("{\"format_version\": 1, \"memory_size\": -1}", "line 1, memory_size: a value of the wrong type, or out of its range")]
    [InlineData("{\"format_version\": 1, \"debug_exit_port\": 65536}", "line 1, debug_exit_port: a value of the wrong type, or out of its range")]
    [InlineData("{\"format_version\": 1, \"accelerator\": \"tcg\"}", "line 1, accelerator: must be one of \"auto\", \"kvm\", \"emulate\"")]
    [InlineData("{\"format_version\": 1, \"accelerator\": 1}", "line 1, accelerator: must be one of \"auto\", \"kvm\", \"emulate\"")]
    [InlineData("{\"format_version\": 1, \"console\": {\"kind\": \"serial\"}}", "line 1, console.kind: must be one of \"stdio\", \"pty\", \"socket\", \"none\"")]
    [InlineData("{\"format_version\": 1, \"disks\": [{\"path\": \"/a\", \"format\": \"vmdk\"}]}", "line 1, disks[0].format: must be one of \"raw\", \"qcow2\" or null")]
    [InlineData("{\"format_version\": 1, \"disks\": [{\"format\": \"raw\"}]}", "disks[0]: missing 'path'")]
    [InlineData("{\"format_version\": 1, \"disks\": [{\"path\": null}]}", "disks[0].path: cannot be null")]
    [InlineData("{\"format_version\": 1, \"kernel\": {\"path\": null}}", "kernel.path: cannot be null")]
    [InlineData("{\"format_version\": 1, \"nets\": [null]}", "nets[0]: cannot be null")]
    [InlineData("{\"format_version\": 1, \"disks\": null}", "line 1, disks: a value of the wrong type, or out of its range")]
    [InlineData("{\"format_version\": 1, \"vsock\": {\"guest_cid\": 3}}", "vsock: missing 'uds_path'")]
    public void MistakesAreOneLineWithWhereTheyAre(string json, string expected) => AssertRefused(json, expected);

    [Fact]
    public void AFileNamesItselfInEveryMessage()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kvmsharp-config-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, "{\"format_version\": 1, \"cpus\": 2}");
            var e = Assert.Throws<MachineConfigException>(() => MachineConfigJson.ReadFile(path));
            Assert.Equal($"{path}: line 1, cpus: unknown field", e.Message);
            File.Delete(path);
            e = Assert.Throws<MachineConfigException>(() => MachineConfigJson.ReadFile(path));
            Assert.StartsWith($"cannot read the config {path}: ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertRefused(string json, string expected)
    {
        var e = Assert.Throws<MachineConfigException>(() => MachineConfigJson.Read(json));
        Assert.True(e.Message == expected || (expected.EndsWith(": ") && e.Message.StartsWith(expected, StringComparison.Ordinal))
                    || (!expected.StartsWith("line") && e.Message.EndsWith(expected, StringComparison.Ordinal)), $"got: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain("KvmSharp.", e.Message);
    }
}
