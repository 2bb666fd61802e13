using System.Globalization;
using System.Runtime.InteropServices;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// The host as NODE_GET_INFO (virNodeInfo) describes it, read once from /proc/cpuinfo, /proc/meminfo and the
/// process's CPU count. Missing or odd files give plain defaults, never an error: virsh only prints these.
/// </summary>
internal sealed record HostInfo(string Model, ulong MemoryKib, int Cpus, int Mhz, int Nodes, int Sockets, int Cores, int Threads, Guid Uuid)
{
    public static HostInfo Read() => Parse(TryRead("/proc/cpuinfo"), TryRead("/proc/meminfo"), TryRead("/etc/machine-id"), Environment.ProcessorCount);

    /// <summary>virNodeInfo.model: the architecture, as libvirt's Linux driver reports it.</summary>
    public static string CurrentArchitecture => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        var other => other.ToString().ToLowerInvariant(),
    };

    public static HostInfo Parse(string cpuinfo, string meminfo, string machineId, int cpus)
    {
        cpus = Math.Max(1, cpus);
        int mhz = 0, coresPerSocket = 0, siblings = 0;
        var sockets = new HashSet<string>();
        foreach (string line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0) continue;
            string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "cpu MHz" when mhz == 0 && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double m) && m is > 0 and < 1e6:
                    mhz = (int)m;
                    break;
                case "physical id":
                    sockets.Add(value);
                    break;
                case "cpu cores" when coresPerSocket == 0 && int.TryParse(value, CultureInfo.InvariantCulture, out int c) && c > 0:
                    coresPerSocket = c;
                    break;
                case "siblings" when siblings == 0 && int.TryParse(value, CultureInfo.InvariantCulture, out int s) && s > 0:
                    siblings = s;
                    break;
            }
        }

        // virNodeInfo promises cpus == nodes * sockets * cores * threads; when /proc/cpuinfo (or a container's
        // CPU limit) disagrees, report the flat topology libvirt itself falls back to: 1 node, 1 socket, cpus cores.
        int socketCount = Math.Max(1, sockets.Count);
        int cores = coresPerSocket, threads = coresPerSocket > 0 && siblings >= coresPerSocket ? siblings / coresPerSocket : 0;
        if (cores <= 0 || threads <= 0 || (long)socketCount * cores * threads != cpus) (socketCount, cores, threads) = (1, cpus, 1);

        ulong memoryKib = 0;
        foreach (string line in meminfo.Split('\n'))
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal)) continue;
            string number = line["MemTotal:".Length..].Trim().Split(' ')[0];
            if (ulong.TryParse(number, CultureInfo.InvariantCulture, out ulong kib)) memoryKib = kib;
        }

        Guid uuid = Guid.TryParseExact(machineId.Trim(), "N", out Guid id) ? id : Guid.Empty;
        return new HostInfo(CurrentArchitecture, memoryKib, cpus, mhz, 1, socketCount, cores, threads, uuid);
    }

    private static string TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
