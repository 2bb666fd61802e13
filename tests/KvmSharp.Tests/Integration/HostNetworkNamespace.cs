using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// A network namespace of the test's own with tap devices in it, so a guest NIC reaches "the host" without
/// touching the machine's real network: tap N gets 10.0.(2+N).1/24. The VMM runs inside it
/// (<see cref="CommandPrefix"/>), and the test opens its sockets inside it (<see cref="Listen"/>).
/// Needs root (CAP_NET_ADMIN) and /dev/net/tun; without them it fails loudly, never skips.
/// </summary>
internal sealed partial class HostNetworkNamespace : IDisposable
{
    private const int CloneNewNet = 0x4000_0000;

    public HostNetworkNamespace(int taps)
    {
        Name = $"kvmsharp-{Environment.ProcessId}-{Guid.NewGuid():N}"[..24];
        if (!File.Exists("/dev/net/tun"))
            throw new InvalidOperationException("this test needs /dev/net/tun (tap devices) and root; the host has no /dev/net/tun");
        HostTool.Run("ip", "netns", "add", Name);
        try
        {
            HostTool.Run("ip", "-n", Name, "link", "set", "lo", "up");
            for (int i = 0; i < taps; i++)
            {
                HostTool.Run("ip", "-n", Name, "tuntap", "add", "dev", TapName(i), "mode", "tap", "vnet_hdr");
                HostTool.Run("ip", "-n", Name, "addr", "add", $"{HostAddress(i)}/24", "dev", TapName(i));
                HostTool.Run("ip", "-n", Name, "link", "set", TapName(i), "up");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Name { get; }

    public static string TapName(int index) => $"kstap{index}";

    public static string HostAddress(int index) => $"10.0.{2 + index}.1";

    public static string GuestAddress(int index) => $"10.0.{2 + index}.15";

    /// <summary>Runs a program inside the namespace: <c>ip netns exec NAME program …</c>.</summary>
    public string[] CommandPrefix => ["ip", "netns", "exec", Name];

    /// <summary>A TCP listener on <paramref name="port"/> of every address in the namespace (a socket keeps the namespace it was made in).</summary>
    public Socket Listen(int port)
    {
        Socket? socket = null;
        Exception? failure = null;
        // setns changes the calling thread only: do it on a throwaway thread.
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/var/run/netns/{Name}");
                if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns into {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Any, port));
                socket.Listen(4);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
        return socket!;
    }

    /// <summary>Runs <paramref name="work"/> on a thread inside the namespace (its sockets are the namespace's, wherever they are used later).</summary>
    public T Inside<T>(Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/var/run/netns/{Name}");
                if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new InvalidOperationException($"setns into {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                result = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw failure;
        return result;
    }

    public void Inside(Action work) => Inside(() => { work(); return 0; });

    public void Dispose()
    {
        try { HostTool.Run("ip", "netns", "del", Name); }
        catch (InvalidOperationException) { /* already gone */ }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nsType);
}
