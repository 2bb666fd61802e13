using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// The default guest (Debian's cloud kernel and busybox) on the software CPU using virtio devices as a
/// user would, through <c>kvmsharp run --exec</c>: ext4 disks (raw and a qcow2 overlay on a read-only
/// base) read, written and read again in a second boot, /dev/hwrng, the balloon driver, hvc0 both ways,
/// two NICs on taps in a network
/// namespace of the test's own (ping and a TCP transfer with busybox nc), and vsock in both directions
/// through Firecracker-style Unix sockets. Everything the host checks is read with host tools
/// (md5, debugfs, qemu-img), not with our code.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirtioGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-virtio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>--icount 0: guest time follows instructions, so timeouts in the guest do not depend on the host's load.</summary>
    private static (int Code, string Stdout, string Stderr) Exec(string[] wrapper, string command, params string[] flags) =>
        CliProcess.RunUnder(wrapper, ["run", "--accel", "emulate", "--icount", "0", "--exec", command, .. flags]);

    [Fact]
    public void Ext4DisksAreReadWrittenAndKeptAcrossBootsAndTheQcow2BaseStaysUnchanged()
    {
        Assert.NotNull(guest.Guest);
        byte[] data = RandomBytes(300_000, seed: 5);
        string disk = Path.Combine(_dir, "data.img"), baseImage = Path.Combine(_dir, "base.img"), overlay = Path.Combine(_dir, "overlay.qcow2");
        Ext4Image.Create(disk, 32, new Dictionary<string, byte[]> { ["data.bin"] = data });
        Ext4Image.Create(baseImage, 16, new Dictionary<string, byte[]> { ["base.txt"] = "from the base\n"u8.ToArray() });
        File.SetUnixFileMode(baseImage, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        HostTool.Run("qemu-img", "create", "-q", "-f", "qcow2", "-b", baseImage, "-F", "raw", overlay);
        string baseHash = Md5(File.ReadAllBytes(baseImage));
        string[] disks = ["--disk", disk, "--disk", $"{overlay},format=qcow2"];

        var (code, stdout, stderr) = Exec([],
            "mkdir -p /a /b; mount /dev/vda /a && md5sum /a/data.bin && echo written-by-guest > /a/new.txt && umount /a"
            + " && mount /dev/vdb /b && cat /b/base.txt && echo into-the-overlay > /b/ov.txt && umount /b"
            + " && head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \\n'",
            [.. disks, "--rng"]);
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        var lines = stdout.Split('\n');
        Assert.StartsWith(Md5(data), lines[0]);
        Assert.Equal("from the base", lines[1]);
        string random = lines[2].Trim();
        Assert.Equal(128, random.Length);
        Assert.True(random.Distinct().Count() > 4, $"/dev/hwrng gave {random}");

        // The host reads the guest's write with e2fsprogs after power-off; the base never changed.
        Assert.Equal("written-by-guest\n", Encoding.ASCII.GetString(Ext4Image.ReadFile(disk, "new.txt") ?? []));
        Assert.Equal(baseHash, Md5(File.ReadAllBytes(baseImage)));
        HostTool.Run("qemu-img", "check", "-q", overlay);

        (code, stdout, stderr) = Exec([], "mkdir -p /a /b; mount -o ro /dev/vda /a && cat /a/new.txt && mount -o ro /dev/vdb /b && cat /b/ov.txt", disks);
        Assert.True(code == 0, $"second boot: exit status {code}, stderr: {stderr}, stdout: {stdout}");
        Assert.Equal("written-by-guest\ninto-the-overlay\n", stdout);
    }

    [Fact]
    public void AQcow2DiskTwoNicsVsockAndRngWorkAtOnce()
    {
        Assert.NotNull(guest.Guest);
        // The launcher builds a stale CLI first, which needs NuGet: do that outside the namespace, which has no way out.
        Assert.Equal(0, CliProcess.Run("--help").ExitCode);
        using var network = new HostNetworkNamespace(taps: 2);
        string tools = Path.Combine(_dir, "tools.img"), toolsQcow2 = Path.Combine(_dir, "tools.qcow2"), second = Path.Combine(_dir, "second.img");
        Ext4Image.Create(tools, 16, new Dictionary<string, byte[]> { ["vsock-echo"] = GuestTools.VsockEcho });
        HostTool.Run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", tools, toolsQcow2);
        Ext4Image.Create(second, 8, new Dictionary<string, byte[]> { ["marker"] = "second disk\n"u8.ToArray() });
        string uds = Path.Combine(_dir, "v.sock");

        // Host side of the TCP transfer: read to EOF, hash what came.
        using var listener = network.Listen(7000);
        var received = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var stream = new NetworkStream(connection);
            var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return Md5(buffer.ToArray());
        });
        // Guest → host vsock: a guest connection to port 6000 arrives on uds_6000; echo it.
        using var echo = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        echo.Bind(new UnixDomainSocketEndPoint(uds + "_6000"));
        echo.Listen(1);
        var echoed = Task.Run(() =>
        {
            using var connection = echo.Accept();
            var buffer = new byte[4096];
            int n;
            while ((n = connection.Receive(buffer)) > 0) connection.Send(buffer.AsSpan(0, n));
        }, TestContext.Current.CancellationToken);

        var run = Task.Run(() => Exec(network.CommandPrefix,
            "mkdir -p /t /d; mount /dev/vda /t && mount /dev/vdb /d && cat /d/marker"
            + " && ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip link set eth1 up && ip addr add 10.0.3.15/24 dev eth1"
            + " && ping -c1 -W10 10.0.2.1 >/dev/null && echo ping0 && ping -c1 -W10 10.0.3.1 >/dev/null && echo ping1"
            + " && head -c 1048576 /dev/urandom > /tmp/blob && md5sum /tmp/blob && nc 10.0.2.1 7000 < /tmp/blob"
            + " && /t/vsock-echo call 2 6000 hello-from-guest && head -c 16 /dev/hwrng | wc -c"
            + " && /t/vsock-echo serve 5000",
            "--disk", $"{toolsQcow2},format=qcow2", "--disk", second,
            "--net", $"tap={HostNetworkNamespace.TapName(0)}", "--net", $"tap={HostNetworkNamespace.TapName(1)},mac=52:54:00:12:34:56",
            "--vsock", $"cid=3,uds={uds}", "--rng"));

        // Host → guest vsock (Firecracker's convention): CONNECT 5000 until the guest's server is up.
        string fromGuest = ConnectToGuest(uds, 5000, "hello-from-host", run);
        var (code, stdout, stderr) = run.Result;
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        Assert.Equal("hello-from-host", fromGuest);
        var lines = stdout.Split('\n');
        Assert.Equal("second disk", lines[0]);
        Assert.Equal("ping0", lines[1]);
        Assert.Equal("ping1", lines[2]);
        Assert.True(received.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the TCP transfer never ended on the host side");
        Assert.StartsWith(received.Result, lines[3]);
        Assert.Equal("hello-from-guest", lines[4]);
        Assert.Equal("16", lines[5].Trim());
        Assert.True(echoed.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the guest's vsock connection never closed");
    }

    [Fact]
    public void TheBalloonDriverBindsAndHvc0CarriesBytesBothWays()
    {
        Assert.NotNull(guest.Guest);
        string socketPath = Path.Combine(_dir, "hvc.sock");
        var run = Task.Run(() => Exec([],
            // hvc0 is a tty: input that arrives while nobody holds it open is flushed, so the guest opens it first and says so.
            "ls /sys/bus/virtio/drivers/virtio_balloon | grep -c virtio; exec 3</dev/hvc0; echo ready > /dev/hvc0; head -n1 <&3; echo to-the-host > /dev/hvc0",
            "--balloon", "--virtio-console", $"socket:{socketPath}"));

        // Once the guest says it is ready on hvc0, send it a line, then read until its answer.
        string received = "";
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (DateTime.UtcNow < deadline && !run.IsCompleted && !File.Exists(socketPath)) Thread.Sleep(200);
        if (File.Exists(socketPath))
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            socket.ReceiveTimeout = 240_000;
            var buffer = new byte[4096];
            int n;
            bool sent = false;
            while (!received.Contains("to-the-host", StringComparison.Ordinal) && (n = socket.Receive(buffer)) > 0)
            {
                received += Encoding.ASCII.GetString(buffer, 0, n);
                if (!sent && received.Contains("ready", StringComparison.Ordinal))
                {
                    socket.Send("from-the-host\n"u8);
                    sent = true;
                }
            }
        }
        var (code, stdout, stderr) = run.Result;
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        Assert.Equal("1\nfrom-the-host\n", stdout);
        Assert.Contains("to-the-host", received);
    }

    /// <summary>Connects to the VMM's vsock socket, asks for guest port <paramref name="port"/>, sends <paramref name="text"/> and returns the echo; retries while the guest is not listening yet.</summary>
    private static string ConnectToGuest(string uds, int port, string text, Task run)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(4);
        while (DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            Thread.Sleep(500);
            if (!File.Exists(uds)) continue;
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(uds));
                socket.Send(Encoding.ASCII.GetBytes($"CONNECT {port}\n"));
                string reply = ReadLine(socket);
                if (!reply.StartsWith("OK ", StringComparison.Ordinal)) continue; // not listening yet: the VMM closes us
                socket.Send(Encoding.ASCII.GetBytes(text));
                socket.Shutdown(SocketShutdown.Send);
                var echo = new MemoryStream();
                var buffer = new byte[4096];
                int n;
                while ((n = socket.Receive(buffer)) > 0) echo.Write(buffer, 0, n);
                return Encoding.ASCII.GetString(echo.ToArray());
            }
            catch (SocketException)
            {
                // The VMM reset the connection (the guest refused it): try again.
            }
        }
        return "(no connection to the guest's port)";
    }

    private static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (socket.Receive(one) == 1 && one[0] != '\n') line.Append((char)one[0]);
        return line.ToString();
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Md5(byte[] bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));
}
