using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>Normalize and the With… methods: default ids, slots that stay put, MACs in one form.</summary>
public class DeviceLayoutTests
{
    [Fact]
    public void WithoutSlotsDevicesGetTheSlotsTheyAlwaysHad()
    {
        // Before slots were part of the config, devices went on the bus in this order from slot 1.
        var config = ConfigSamples.FromFlags().Normalize();
        Assert.Equal([1, 2], config.Disks.Select(d => d.Slot));
        Assert.Equal([3, 4], config.Nets.Select(n => n.Slot));
        Assert.Equal([5, 6, 7, 8], new[] { config.Rng!.Slot, config.Balloon!.Slot, config.Vsock!.Slot, config.VirtioConsole!.Slot });
        Assert.Equal(["disk0", "disk1"], config.Disks.Select(d => d.Id));
        Assert.Equal(["net0", "net1"], config.Nets.Select(n => n.Id));
        Assert.Equal(["rng0", "balloon0", "vsock0", "hvc0"], new[] { config.Rng.Id, config.Balloon.Id, config.Vsock.Id, config.VirtioConsole.Id });
    }

    [Fact]
    public void NormalizingTwiceChangesNothing()
    {
        var once = ConfigSamples.FromFlags().Normalize();
        Assert.Equal(once, once.Normalize());
        Assert.Equal(ConfigSamples.Full(), ConfigSamples.Full().Normalize());   // everything given: kept as it is
    }

    [Fact]
    public void GivenSlotsAreKeptAndTheRestTakeTheLowestFree()
    {
        var config = new MachineConfig
        {
            Disks = [new DiskConfig("/a") { Slot = 2 }, new DiskConfig("/b")],
            Rng = new RngConfig { Slot = 1 },
            Balloon = new BalloonConfig(),
        }.Normalize();
        Assert.Equal([2, 3], config.Disks.Select(d => d.Slot));
        Assert.Equal(1, config.Rng!.Slot);
        Assert.Equal(4, config.Balloon!.Slot);
    }

    [Fact]
    public void AddingADeviceMovesNoOther()
    {
        var before = ConfigSamples.FromFlags().Normalize();
        var after = before.WithDisk(new DiskConfig("/c.img"));
        Assert.Equal(before.Disks.Select(d => (d.Id, d.Slot)), after.Disks.Take(2).Select(d => (d.Id, d.Slot)));
        Assert.Equal(before.Nets, after.Nets);
        Assert.Equal((before.Rng, before.Balloon, before.Vsock, before.VirtioConsole), (after.Rng, after.Balloon, after.Vsock, after.VirtioConsole));
        Assert.Equal(("disk2", 9), (after.Disks[2].Id, after.Disks[2].Slot));
        var withNet = after.WithNet(new NetConfig("tap9"));
        Assert.Equal(("net2", 10), (withNet.Nets[2].Id, withNet.Nets[2].Slot));
        Assert.Equal(after.Disks, withNet.Disks);
    }

    [Fact]
    public void ADeviceAddedToAConfigNotYetNormalizedLeavesTheOthersWhereTheyWouldHaveBeen()
    {
        var plain = ConfigSamples.FromFlags();
        var added = plain.WithDisk(new DiskConfig("/c.img"));
        Assert.Equal(plain.Normalize().Nets, added.Nets);
        Assert.Equal(9, added.Disks[2].Slot);
    }

    [Fact]
    public void ReplacingADeviceByIdKeepsItsSlot()
    {
        var config = ConfigSamples.FromFlags().Normalize();
        var replaced = config.WithDisk(new DiskConfig("/new.img", ReadOnly: true) { Id = "disk1" });
        Assert.Equal(2, replaced.Disks.Count);
        Assert.Equal(new DiskConfig("/new.img", ReadOnly: true) { Id = "disk1", Slot = 2 }, replaced.Disks[1]);
        Assert.Equal(config.Disks[0], replaced.Disks[0]);
        var moved = config.WithDisk(new DiskConfig("/new.img") { Id = "disk1", Slot = 20 });
        Assert.Equal(20, moved.Disks[1].Slot);
        var nic = config.WithNet(new NetConfig("tap5") { Id = "net0" });
        Assert.Equal((3, "tap5", MacAddress.Format(MacAddress.FromName("tap5"))), (nic.Nets[0].Slot!.Value, nic.Nets[0].Tap, nic.Nets[0].Mac));
    }

    [Fact]
    public void SingleDevicesAreSetReplacedAndRemoved()
    {
        var config = ConfigSamples.FromFlags().Normalize();
        Assert.Equal(config.Rng, config.WithRng(new RngConfig()).Rng);                          // same id and slot
        Assert.Equal(new RngConfig { Id = "rng0", Slot = 12 }, config.WithRng(new RngConfig { Slot = 12 }).Rng);
        Assert.Null(config.WithRng(null).Rng);
        Assert.Equal(config.Disks, config.WithRng(null).Disks);
        Assert.Equal(new VsockConfig(9, "/x") { Id = "vsock0", Slot = 7 }, config.WithVsock(new VsockConfig(9, "/x")).Vsock);
        Assert.Equal(new BalloonConfig { Id = "balloon0", Slot = 6 }, config.WithBalloon(new BalloonConfig()).Balloon);
        Assert.Equal(new VirtioConsoleConfig(ConsoleKind.Pty) { Id = "hvc0", Slot = 8 }, config.WithVirtioConsole(new VirtioConsoleConfig(ConsoleKind.Pty)).VirtioConsole);
        var fresh = new MachineConfig().WithBalloon(new BalloonConfig());
        Assert.Equal(new BalloonConfig { Id = "balloon0", Slot = 1 }, fresh.Balloon);
    }

    [Fact]
    public void DefaultIdsStepAroundIdsTheUserGave()
    {
        var config = new MachineConfig
        {
            Disks = [new DiskConfig("/a"), new DiskConfig("/b") { Id = "disk0" }, new DiskConfig("/c")],
            Nets = [new NetConfig("t0") { Id = "disk2" }],
        }.Normalize();
        Assert.Equal(["disk1", "disk0", "disk3"], config.Disks.Select(d => d.Id));
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void MacsAreDerivedFromTheTapAsBeforeOrWrittenInOneForm()
    {
        var config = new MachineConfig { Nets = [new NetConfig("tap0"), new NetConfig("tap1", "52-54-00-AB-CD-EF")] }.Normalize();
        Assert.Equal(MacAddress.Format(MacAddress.FromName("tap0")), config.Nets[0].Mac);
        Assert.Equal("52:54:00:ab:cd:ef", config.Nets[1].Mac);
        // A wrong one is left for Validate to name.
        var wrong = new MachineConfig { Nets = [new NetConfig("tap0", "01:02:03:04:05:06")] }.Normalize();
        Assert.Equal("01:02:03:04:05:06", wrong.Nets[0].Mac);
        Assert.Equal("nets[0].mac", Assert.Single(wrong.Validate()).Field);
    }

    [Fact]
    public void AFullBusLeavesTheLastDeviceWithoutASlotAndValidationSaysSo()
    {
        var config = new MachineConfig { Disks = [.. Enumerable.Range(0, 31).Select(i => new DiskConfig($"/d{i}"))], Rng = new RngConfig() }.Normalize();
        Assert.Equal(31, config.Disks[30].Slot);
        Assert.Null(config.Rng!.Slot);
        var problem = Assert.Single(config.Validate());
        Assert.Equal("rng", problem.Field);
        Assert.Contains("no PCI slot is left", problem.Message);
    }
}
