using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Cli;

/// <summary><c>--net user[,hostfwd=…][,mac=…]</c>: QEMU's hostfwd syntax, the config it makes, and one clear line per mistake.</summary>
public class NetUserOptionTests
{
    [Fact]
    public void UserWithForwardsAndMacIsParsed()
    {
        Assert.True(NetOption.TryParse("user,hostfwd=tcp:127.0.0.1:2222-:22,mac=52:54:00:AA:bb:01,hostfwd=udp::5353-:53,hostfwd=::8080-:80", out var net, out string error), error);
        Assert.Equal(NetBackendKind.User, net.Backend);
        Assert.Equal("", net.Tap);
        Assert.Equal("52:54:00:aa:bb:01", net.Mac);
        Assert.Equal(
            [new PortForward(ForwardProtocol.Tcp, 2222, 22, "127.0.0.1"), new PortForward(ForwardProtocol.Udp, 5353, 53), new PortForward(ForwardProtocol.Tcp, 8080, 80)],
            net.HostForwards!.Value.ToArray());

        Assert.True(NetOption.TryParse("user", out net, out _));
        Assert.Equal(NetBackendKind.User, net.Backend);
        Assert.Null(net.HostForwards);
        Assert.True(NetOption.TryParse("user,hostfwd=tcp:[::1]:2222-:22", out net, out _));
        Assert.Equal("::1", net.HostForwards!.Value[0].HostAddress);
        Assert.True(NetOption.TryParse("tap=tap0", out net, out _));   // the tap form is as it was
        Assert.Equal(NetBackendKind.Tap, net.Backend);
    }

    [Theory]
    [InlineData("user,hostfwd=tcp:127.0.0.1:2222", "tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT")]
    [InlineData("user,hostfwd=sctp::1-:2", "'sctp' is not tcp or udp")]
    [InlineData("user,hostfwd=tcp::0-:22", "host port '0' is not a port")]
    [InlineData("user,hostfwd=tcp::2222-:65536", "guest port '65536' is not a port")]
    [InlineData("user,hostfwd=tcp::x-:22", "host port 'x'")]
    [InlineData("user,hostfwd=tcp:localhost:2222-:22", "'localhost' is not an IPv4 or IPv6 address")]
    [InlineData("user,hostfwd=tcp:1.2:2222-:22", "'1.2' is not an IPv4")]
    [InlineData("user,hostfwd=tcp::2222-10.0.2.15:22", "leave the guest address out")]
    [InlineData("user,hostfwd=tcp::2222-:22,hostfwd=tcp::2222-:23", "already forwarded")]
    [InlineData("user,mac=zz", "not a MAC address")]
    [InlineData("user,tap=tap0", "unknown key 'tap'")]
    [InlineData("user,speed=10", "unknown key 'speed'")]
    [InlineData("users", "tap=NAME, or use user networking")]
    public void MistakesAreNamed(string text, string expected)
    {
        Assert.False(NetOption.TryParse(text, out _, out string error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void TwoUserNicsGetDifferentStableMacsAndTheConfigRoundTrips()
    {
        Assert.True(NetOption.TryParse("user,hostfwd=tcp:127.0.0.1:2222-:22", out var first, out _));
        Assert.True(NetOption.TryParse("user", out var second, out _));
        var config = new MachineConfig { Nets = [first, second, new NetConfig("tap0")] }.Normalize();
        Assert.Empty(config.Validate());
        Assert.NotEqual(config.Nets[0].Mac, config.Nets[1].Mac);
        Assert.Equal(config.Nets[0].Mac, new MachineConfig { Nets = [first] }.Normalize().Nets[0].Mac);

        string json = MachineConfigJson.Write(config);
        Assert.Contains("\"backend\": \"user\"", json);
        Assert.Contains("\"host_forwards\"", json);
        Assert.Contains("\"host_address\": \"127.0.0.1\"", json);
        Assert.Equal(config, MachineConfigJson.Read(json));
        // A tap NIC is written as before there was a choice: no backend, no forwards.
        string tapOnly = MachineConfigJson.Write(new MachineConfig { Nets = [new NetConfig("tap0")] }.Normalize());
        Assert.DoesNotContain("backend", tapOnly);
        Assert.DoesNotContain("host_forwards", tapOnly);
    }

    [Fact]
    public void ValidationNamesTheField()
    {
        var config = new MachineConfig
        {
            Nets =
            [
                new NetConfig("tap0") { Backend = NetBackendKind.User, HostForwards = [new PortForward(ForwardProtocol.Tcp, 70000, 22), new PortForward(ForwardProtocol.Udp, 53, 53, "nowhere")] },
                new NetConfig("tap1") { HostForwards = [new PortForward(ForwardProtocol.Tcp, 2222, 22)] },
            ],
        };
        var problems = config.Validate().Select(p => p.Field).ToArray();
        Assert.Contains("nets[0].tap", problems);
        Assert.Contains("nets[0].host_forwards[0].host_port", problems);
        Assert.Contains("nets[0].host_forwards[1].host_address", problems);
        Assert.Contains("nets[1].host_forwards", problems);
    }

    [Theory]
    [InlineData("{\"format_version\": 1, \"nets\": [{\"backend\": \"slirp\"}]}", "backend")]
    [InlineData("{\"format_version\": 1, \"nets\": [{\"backend\": \"user\", \"host_forwards\": [{\"protocol\": \"tcp\", \"host_port\": 1}]}]}", "guest_port")]
    public void BadJsonIsOneLineNamingTheField(string json, string field)
    {
        var e = Assert.Throws<MachineConfigException>(() => MachineConfigJson.Read(json));
        Assert.Contains(field, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void PrintConfigShowsTheUserNic()
    {
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo", "--net", "user,hostfwd=tcp:127.0.0.1:2222-:22", "--print-config");
        Assert.True(code == 0, stderr);
        var config = MachineConfigJson.Read(stdout);
        var net = Assert.Single(config.Nets);
        Assert.Equal(NetBackendKind.User, net.Backend);
        Assert.Equal(new PortForward(ForwardProtocol.Tcp, 2222, 22, "127.0.0.1"), Assert.Single(net.HostForwards!.Value));
    }
}
