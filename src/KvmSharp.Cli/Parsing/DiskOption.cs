using System.CommandLine;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary><c>--disk PATH[,format=raw|qcow2][,readonly=on][,serial=ID][,iops=N][,bps=N][,boot=N]</c>, repeatable: the first is the guest's /dev/vda.</summary>
public static class DiskOption
{
    private static readonly string[] Keys = ["format", "readonly", "serial", RateOption.Ops, RateOption.Bytes, BootIndexOption.Key];

    public static Option<DiskConfig[]> Create() => new("--disk")
    {
        HelpName = "PATH[,format=raw|qcow2][,readonly=on][,serial=ID][,iops=N][,bps=N][,boot=N]",
        Description = "A virtio-blk disk (repeatable; the first is /dev/vda). Format: probed when not given; serial: up to 20 ASCII characters; " +
                      "iops/bps: requests or bytes per second (K/M/G suffixes); boot: with --firmware, its place in the boot order (1 first)",
        Arity = ArgumentArity.ZeroOrMore,
        CustomParser = result =>
        {
            var disks = new List<DiskConfig>();
            foreach (var token in result.Tokens)
            {
                if (!TryParse(token.Value, out var disk, out string error))
                {
                    result.AddError($"--disk {token.Value}: {error}");
                    return [];
                }
                disks.Add(disk);
            }
            return [.. disks];
        },
    };

    public static bool TryParse(string text, out DiskConfig disk, out string error)
    {
        disk = new DiskConfig("");
        if (!DeviceOptionList.TryParse(text, Keys, out var options, out error)) return false;
        if (options.Positional is not { } path) { error = "the image path comes first, as in --disk disk.qcow2,readonly=on"; return false; }
        DiskFormat? format = options.Get("format") switch
        {
            null => null,
            "raw" => DiskFormat.Raw,
            "qcow2" => DiskFormat.Qcow2,
            var other => Fail(out error, $"format={other}: use raw or qcow2"),
        };
        if (error.Length > 0) return false;
        if (!options.TryGetSwitch("readonly", out bool readOnly, out error)) return false;
        string? serial = options.Get("serial");
        if (serial is not null && !VirtioBlockDevice.IsValidSerial(serial))
        {
            error = $"serial={serial}: at most 20 printable ASCII characters";
            return false;
        }
        if (!RateOption.TryParse(options, allowOps: true, out var limiter, out error)) return false;
        if (!BootIndexOption.TryParse(options, out int? bootIndex, out error)) return false;
        disk = new DiskConfig(Path.GetFullPath(path), format, readOnly, serial) { RateLimiter = limiter, BootIndex = bootIndex };
        return true;
    }

    private static DiskFormat? Fail(out string error, string message)
    {
        error = message;
        return null;
    }
}
