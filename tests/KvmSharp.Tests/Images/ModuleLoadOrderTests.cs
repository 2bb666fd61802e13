using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Images;

/// <summary>Loading kernel modules after what they depend on.</summary>
public class ModuleLoadOrderTests
{
    /// <summary>The "depends=" fields of these modules in Debian's linux-image-6.1.0-*-cloud-amd64 (as <c>readelf -p .modinfo</c> prints them).</summary>
    private static readonly Dictionary<string, string[]> Debian12Cloud = new()
    {
        ["virtio"] = ["virtio_ring"],
        ["virtio_ring"] = [],
        ["virtio_pci_modern_dev"] = [],
        ["virtio_pci_legacy_dev"] = [],
        ["virtio_pci"] = ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio"],
        ["failover"] = [],
        ["net_failover"] = ["failover"],
        ["virtio_net"] = ["virtio_ring", "virtio", "net_failover"],
        ["vsock"] = [],
        ["vmw_vsock_virtio_transport_common"] = ["vsock"],
        ["vmw_vsock_virtio_transport"] = ["virtio", "vmw_vsock_virtio_transport_common", "virtio_ring", "vsock"],
    };

    private static IReadOnlyList<string>? Lookup(string name) => Debian12Cloud.TryGetValue(name, out var d) ? d : null;

    [Fact]
    public void EveryModuleComesAfterItsDependenciesAndOnlyOnce()
    {
        var order = ModuleLoadOrder.Resolve(["virtio_net", "virtio_pci", "vmw_vsock_virtio_transport"], Lookup).ToList();
        Assert.Equal(order.Count, order.Distinct().Count());
        Assert.Equal(Debian12Cloud.Count, order.Count);
        foreach (var module in order)
            foreach (var dependency in Debian12Cloud[module])
                Assert.True(order.IndexOf(dependency) < order.IndexOf(module), $"{dependency} must load before {module}: {string.Join(", ", order)}");
    }

    [Fact]
    public void TheOrderFollowsTheRequestWhereDependenciesAllowIt()
    {
        Assert.Equal(["virtio_ring", "virtio", "failover", "net_failover", "virtio_net", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci"],
            ModuleLoadOrder.Resolve(["virtio_net", "virtio_pci"], Lookup));
    }

    [Fact]
    public void AMissingDependencyNamesTheModuleThatNeedsIt()
    {
        var e = Assert.Throws<GuestImageException>(() => ModuleLoadOrder.Resolve(["a"], n => n == "a" ? ["b"] : null));
        Assert.Equal("module 'a' needs 'b', which the kernel package does not have", e.Message);
        Assert.Equal("the kernel has no module 'c'", Assert.Throws<GuestImageException>(() => ModuleLoadOrder.Resolve(["c"], _ => null)).Message);
    }

    [Fact]
    public void ACycleIsReportedNotFollowedForever()
    {
        var deps = new Dictionary<string, string[]> { ["a"] = ["b"], ["b"] = ["c"], ["c"] = ["a"] };
        var e = Assert.Throws<GuestImageException>(() => ModuleLoadOrder.Resolve(["a"], n => deps[n]));
        Assert.Contains("a -> b -> c -> a", e.Message);
    }
}
