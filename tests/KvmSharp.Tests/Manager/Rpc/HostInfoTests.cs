using KvmSharp.Manager.Rpc;

namespace KvmSharp.Tests.Manager.Rpc;

public sealed class HostInfoTests
{
    private const string TwoSocketCpuinfo = """
        processor	: 0
        physical id	: 0
        siblings	: 4
        cpu cores	: 2
        cpu MHz		: 2400.123
        processor	: 1
        physical id	: 1
        """;

    [Fact]
    public void TopologyMemoryAndUuidComeFromProc()
    {
        var host = HostInfo.Parse(TwoSocketCpuinfo, "MemTotal:       16318412 kB\nMemFree: 1 kB\n", "0b6e6b1c2f1e4c559d1a6f0d1e2a3b4c\n", cpus: 8);

        Assert.Equal((8, 2400, 1, 2, 2, 2), (host.Cpus, host.Mhz, host.Nodes, host.Sockets, host.Cores, host.Threads));
        Assert.Equal(16318412UL, host.MemoryKib);
        Assert.Equal(Guid.Parse("0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c"), host.Uuid);
    }

    [Fact]
    public void ATopologyThatDisagreesWithTheCpuCountIsFlattenedAndGarbageIsIgnored()
    {
        var limited = HostInfo.Parse(TwoSocketCpuinfo, "", "", cpus: 3);
        var garbage = HostInfo.Parse("cpu MHz: NaN\ncpu cores: -1\n:::\n", "MemTotal: lots", "not-a-uuid", cpus: 0);

        Assert.Equal((3, 1, 1, 3, 1), (limited.Cpus, limited.Nodes, limited.Sockets, limited.Cores, limited.Threads));
        Assert.Equal((1, 0, 1, 1, 1, 0UL, Guid.Empty), (garbage.Cpus, garbage.Mhz, garbage.Sockets, garbage.Cores, garbage.Threads, garbage.MemoryKib, garbage.Uuid));
    }

    [Fact]
    public void TheCapabilitiesPassLibvirtsSchema()
    {
        string file = Path.Combine(Path.GetTempPath(), $"kvmsharp-caps-{Environment.ProcessId}.xml");
        File.WriteAllText(file, HostCapabilities.Build(HostInfo.Read()));
        try
        {
            var r = ClientProcess.Run("/usr/bin/virt-xml-validate", [file, "capability"]);

            Assert.True(r.ExitCode == 0, r.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
