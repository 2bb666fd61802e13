using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// <c>--net user</c> in the default guest on the software CPU, in one boot: the guest's /init gets a DHCP lease
/// from passt, then TCP both ways: the guest fetches a file from a host server through the gateway's address
/// (passt maps it to the host's loopback) and uploads one with busybox nc, and the host fetches a file from the
/// guest's busybox httpd through a hostfwd on 127.0.0.1. Everything is checked by MD5 on both sides.
/// <para>
/// The VMM and passt run in a network namespace of the test's own with a tap (no carrier) as its one interface,
/// 10.0.2.1/24 with a default route via 10.0.2.254, which passt copies for the guest; all traffic stays on that
/// namespace's loopback. Real time, not --icount: passt answers in host time, and a guest clock that skips its
/// idle time would give up on DHCP before the answer is read.
/// </para>
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UserNetworkGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>
{
    private const string Gateway = "10.0.2.254";
    private const int FromHostPort = 7001, ToHostPort = 7000, HttpForward = 2222;

    [Fact]
    public void DhcpThenTcpBothWaysThroughPasst()
    {
        Assert.NotNull(guest.Guest);
        if (!File.Exists("/usr/bin/passt") && !File.Exists("/usr/local/bin/passt"))
            Assert.Skip("passt is not installed (apt-get install passt; ./scripts/test installs it)");
        Assert.Equal(0, CliProcess.Run("--help").ExitCode);   // builds a stale CLI outside the namespace, which has no way out
        using var network = new HostNetworkNamespace(taps: 1);
        HostTool.Run("ip", "-n", network.Name, "route", "add", "default", "via", Gateway, "dev", HostNetworkNamespace.TapName(0));

        byte[] download = RandomBytes(1 << 20, 1);
        using var server = network.Listen(FromHostPort);
        var served = Task.Run(() => ServeOnce(server, download), TestContext.Current.CancellationToken);
        using var uploads = network.Listen(ToHostPort);
        var uploaded = Task.Run(() =>
        {
            using var connection = uploads.Accept();
            using var stream = new NetworkStream(connection);
            var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return Md5(buffer.ToArray());
        }, TestContext.Current.CancellationToken);

        // The guest serves its blob through a CGI of busybox httpd that leaves /tmp/fetched behind, and finishes once it is there.
        var run = Task.Run(() => CliProcess.RunUnder(network.CommandPrefix,
            "run", "--accel", "emulate", "--net", $"user,hostfwd=tcp:127.0.0.1:{HttpForward}-:80", "--exec",
            "mkdir -p /www/cgi-bin && head -c 1048576 /dev/urandom > /blob && echo '#!/bin/sh' > /www/cgi-bin/blob"
            + " && echo 'printf \"Content-Type: application/octet-stream\\r\\n\\r\\n\"; cat /blob; touch /tmp/fetched' >> /www/cgi-bin/blob"
            + " && chmod 755 /www/cgi-bin/blob && httpd -p 80 -h /www"
            + " && ip -4 -o addr show dev eth0 | grep -o 'inet [0-9./]*' && ip route show default | grep -o 'via [0-9.]*'"
            + $" && wget -q -O /tmp/down http://{Gateway}:{FromHostPort}/ && md5sum /tmp/down"
            + $" && head -c 1048576 /dev/urandom > /tmp/up && md5sum /tmp/up && nc {Gateway} {ToHostPort} < /tmp/up"
            + " && md5sum /blob && while [ ! -e /tmp/fetched ]; do sleep 1; done && echo done"), TestContext.Current.CancellationToken);

        // Host → guest through the forward, once the guest's httpd answers.
        string fetched = network.Inside(() => FetchUntilServed(HttpForward, run));

        var (code, stdout, stderr) = run.Result;
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        var lines = stdout.Split('\n');
        Assert.Equal("inet 10.0.2.1/24", lines[0]);   // passt gives the guest the host's own address
        Assert.Equal($"via {Gateway}", lines[1]);
        Assert.StartsWith(Md5(download), lines[2]);
        Assert.True(served.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the host's server never finished");
        Assert.True(uploaded.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the upload never ended on the host side");
        Assert.StartsWith(uploaded.Result, lines[3]);
        Assert.StartsWith(fetched, lines[4]);
        Assert.Equal("done", lines[5]);
    }

    /// <summary>One HTTP/1.0 exchange: reads the request's head, answers with <paramref name="body"/>.</summary>
    private static void ServeOnce(Socket server, byte[] body)
    {
        using var connection = server.Accept();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && connection.Receive(one) == 1) head.Append((char)one[0]);
        connection.Send(Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\n\r\n"));
        connection.Send(body);
        connection.Shutdown(SocketShutdown.Send);
        // Close only after the client has: closing with bytes unread would reset the connection (RFC 1122 §4.2.2.13).
        connection.ReceiveTimeout = 60_000;
        try
        {
            while (connection.Receive(one) > 0) { }
        }
        catch (SocketException)
        {
            // The client went without closing: nothing more to wait for.
        }
    }

    /// <summary>GET /blob from 127.0.0.1:<paramref name="port"/> (passt's forward to the guest's httpd) until it comes whole; its MD5.</summary>
    private static string FetchUntilServed(int port, Task run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(8);
        string last = "(the guest's httpd never answered through the forward)";
        while (DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 60_000 };
                socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
                socket.Send("GET /cgi-bin/blob HTTP/1.0\r\n\r\n"u8);
                var response = new MemoryStream();
                var buffer = new byte[65536];
                int n;
                while ((n = socket.Receive(buffer)) > 0) response.Write(buffer, 0, n);
                byte[] bytes = response.ToArray();
                int split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
                string head = split > 0 ? Encoding.ASCII.GetString(bytes, 0, split) : "";
                if (head.StartsWith("HTTP/1.", StringComparison.Ordinal) && head.Contains(" 200 ", StringComparison.Ordinal))
                    return bytes.Length - split - 4 == 1 << 20 ? Md5(bytes[(split + 4)..]) : $"(a body of {bytes.Length - split - 4} bytes, head: {head.ReplaceLineEndings(" | ")})";
                last = $"(no HTTP 200 through the forward; the last answer began: {Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 120)).ReplaceLineEndings(" | ")})";
            }
            catch (SocketException)
            {
                // The guest is not listening yet (passt resets our connection): again.
            }
            Thread.Sleep(500);
        }
        return last;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Md5(byte[] data) => Convert.ToHexStringLower(MD5.HashData(data));
}
