using System.Diagnostics;
using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// A network namespace of the test's own (<c>ip netns add</c>, deleted with everything in it on dispose), so
/// taps, addresses and sockets never touch the host's network. <see cref="Run{T}"/> runs code on a thread
/// that setns(2) moved inside: descriptors it opens (/dev/net/tun, sockets) stay in the namespace, whichever
/// thread uses them later.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    public NetworkNamespace()
    {
        Name = $"kst{Random.Shared.Next():x8}";
        Command("ip", "netns", "add", Name);
    }

    public string Name { get; }

    /// <summary>Runs `ip -n NAME args...` and fails the test with its error if it fails.</summary>
    public void Ip(params string[] args) => Command("ip", ["-n", Name, .. args]);

    /// <summary>Runs a command inside the namespace (`ip netns exec`, which also mounts its own /sys) and returns its stdout.</summary>
    public string Exec(params string[] args) => Command("ip", ["netns", "exec", Name, .. args]);

    public unsafe T Run<T>(Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int fd = LibcImports.Open($"/var/run/netns/{Name}", LibcConstants.O_RDONLY | LibcConstants.O_CLOEXEC, 0);
                if (fd < 0) throw new NativeException($"open /var/run/netns/{Name}", Marshal.GetLastPInvokeError());
                using var ns = new FileDescriptor(fd);
                if (NetImports.SetNs(fd, NetImports.CLONE_NEWNET) < 0) throw new NativeException("setns", Marshal.GetLastPInvokeError());
                result = action();
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) throw new InvalidOperationException($"in network namespace {Name}: {failure.Message}", failure);
        return result;
    }

    public void Dispose() => Command("ip", "netns", "del", Name);

    private static string Command(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error.Trim()}");
        return stdout.Result;
    }
}
