using KvmSharp.Cli.Parsing;
using KvmSharp.Devices.Virtio.Net;

namespace KvmSharp.Tests.Cli;

/// <summary><c>--net tap=NAME[,mac=MAC]</c>: parsing, and one clear line for each mistake.</summary>
public class NetOptionTests
{
    [Fact]
    public void TapAndMacAreParsed()
    {
        Assert.True(NetOption.TryParse("tap=tap0,mac=52:54:00:AB:cd:09", out var net, out _));
        Assert.Equal("tap0", net.Tap);
        Assert.Equal("52:54:00:ab:cd:09", net.Mac);   // written in the one form a config compares by
        Assert.True(NetOption.TryParse("tap=abcdefghijklmno", out net, out _));   // 15 characters: the longest name
        Assert.True(NetOption.TryParse("tap=t", out net, out _));
        Assert.Null(net.Mac);
    }

    [Theory]
    [InlineData("tap=", "not a network interface name")]
    [InlineData("tap=abcdefghijklmnop", "not a network interface name")]   // 16 characters: IFNAMSIZ is 16 with the NUL
    [InlineData("tap0", "tap=NAME")]
    [InlineData("mac=52:54:00:12:34:56", "tap=NAME")]
    [InlineData("tap=t0,mac=52:54:00:12:34", "not a MAC address")]
    [InlineData("tap=t0,mac=52:54:00:12:34:zz", "not a MAC address")]
    [InlineData("tap=t0,mac=01:00:5e:00:00:01", "multicast")]
    [InlineData("tap=t0,mac=00:00:00:00:00:00", "not a usable MAC")]
    [InlineData("tap=t0,speed=10", "unknown key 'speed'")]
    public void MistakesAreNamed(string text, string expected)
    {
        Assert.False(NetOption.TryParse(text, out _, out string error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void DefaultMacIsStableLocallyAdministeredUnicastAndDiffersPerTap()
    {
        var mac = MacAddress.FromName("tap0");
        Assert.Equal(mac, MacAddress.FromName("tap0"));
        Assert.Equal(2, mac[0] & 3);   // bit 1 (locally administered) set, bit 0 (multicast) clear
        Assert.NotEqual(mac, MacAddress.FromName("tap1"));
        Assert.True(MacAddress.TryParse(MacAddress.Format(mac), out var again, out _));
        Assert.Equal(mac, again);
    }

    [Theory]
    [InlineData(new[] { "--net", "tap=abcdefghijklmnop" }, "--net tap=abcdefghijklmnop: 'abcdefghijklmnop' is not a network interface name")]
    [InlineData(new[] { "--net", "tap=t0,mac=zz" }, "--net tap=t0,mac=zz: 'zz' is not a MAC address")]
    [InlineData(new[] { "--net", "tap=" }, "is not a network interface name")]
    [InlineData(new[] { "--kernel", "demo", "--accel", "kvm", "--net", "tap=kst0", "--net", "tap=kst0,mac=52:54:00:12:34:56" }, "kvmsharp: error: --net: tap kst0 is given twice")]
    public void BadNetFlagsAreOneLineAndAFailure(string[] flags, string expected)
    {
        var (code, _, stderr) = CliProcess.Run(["run", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
