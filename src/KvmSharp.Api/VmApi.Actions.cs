using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;

namespace KvmSharp.Api;

// The machine's life: PUT /actions, PATCH /vm, and the balloon while it runs.
public sealed partial class VmApi
{
    private async Task PutAction(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.InstanceActionInfo);
        switch (request.ActionType)
        {
            case "InstanceStart":
                StartInstance();
                break;
            case "SendCtrlAltDel":
                _machine.SendCtrlAltDelete();
                break;
            case "Shutdown":
                _machine.Shutdown();
                break;
            case "Reboot":
                _machine.Reboot();
                break;
            case "FlushMetrics":
                throw new ApiFault("FlushMetrics: this VMM has no metrics sink configured");
            default:
                throw new ApiFault($"action_type: '{request.ActionType}' is not one of InstanceStart, SendCtrlAltDel, Shutdown, Reboot");
        }
        await NoContent(context);
    }

    /// <summary>Boots the configured machine; the root drive, as Firecracker's, becomes /dev/vda and the kernel's root.</summary>
    private void StartInstance()
    {
        string? root;
        lock (_lock)
        {
            if (!_bootSourceGiven) throw new ApiFault("InstanceStart needs a boot source: PUT /boot-source first");
            root = _rootDriveId;
        }
        if (_machine.Phase != MachinePhase.NotStarted) throw new MachinePhaseException("cannot start the machine: it has already started");
        if (root is not null) _machine.Configure(c => WithRootDrive(c, root));
        _machine.Start();
    }

    /// <summary>Puts the root drive first among the disks (the lowest slot: /dev/vda) and names it on the kernel command line.</summary>
    private static MachineConfig WithRootDrive(MachineConfig config, string rootId)
    {
        var rootDisk = config.Disks.First(d => d.Id == rootId);
        // Before the first boot no guest has seen a slot yet, so the disks may be laid out again.
        DiskConfig[] disks = [rootDisk with { Slot = null }, .. config.Disks.Where(d => d.Id != rootId).Select(d => d with { Slot = null })];
        var kernel = config.Kernel!;
        string rootArgs = $"root=/dev/vda {(rootDisk.ReadOnly ? "ro" : "rw")}";
        // A start that failed (say, a disk that cannot be opened) may be tried again: the root is named once.
        string commandLine = kernel.CommandLine.StartsWith(rootArgs, StringComparison.Ordinal) ? kernel.CommandLine : $"{rootArgs} {kernel.CommandLine}".Trim();
        return (config with { Disks = [.. disks], Kernel = kernel with { CommandLine = commandLine } }).Normalize();
    }

    private async Task PatchVm(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.VmStateUpdate);
        switch (request.State)
        {
            case "Paused": _machine.Pause(); break;
            case "Resumed": _machine.Resume(); break;
            default: throw new ApiFault($"state: '{request.State}' is not one of Paused, Resumed");
        }
        await NoContent(context);
    }

    private async Task PatchBalloon(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.BalloonUpdate);
        uint amount = BalloonMib(request.AmountMib);
        if (_machine.Phase == MachinePhase.NotStarted)
        {
            if (_machine.Config.Balloon is not { } balloon) throw new ApiFault("there is no balloon device: PUT /balloon first");
            Change(c => c.WithBalloon(balloon with { AmountMib = amount }));
        }
        else
        {
            RunningBalloon().SetTargetPages(amount * (uint)((1 << 20) / VirtioBalloonDevice.PageSize));
        }
        await NoContent(context);
    }

    private Task GetBalloon(HttpExchange context)
    {
        var balloon = _machine.Config.Balloon ?? throw new ApiFault("there is no balloon device");
        uint amount = _machine.Current?.Balloon is { } running ? (uint)(running.TargetPages * VirtioBalloonDevice.PageSize >> 20) : balloon.AmountMib;
        return Write(context, new Balloon { AmountMib = amount, DeflateOnOom = balloon.DeflateOnOom, StatsPollingIntervalS = balloon.StatsPollingIntervalS }, Json.Balloon);
    }

    private Task GetBalloonStatistics(HttpExchange context)
    {
        if (_machine.Config.Balloon is not { StatsPollingIntervalS: > 0 })
            throw new ApiFault("balloon statistics are off: PUT /balloon with stats_polling_interval_s above 0");
        var device = RunningBalloon();
        // Each read asks the driver for fresh figures; what it last reported is what this answer shows.
        device.RequestStatistics();
        var stats = device.Statistics;
        const long pagesPerMib = (1 << 20) / (long)VirtioBalloonDevice.PageSize;
        return Write(context, new BalloonStats
        {
            TargetPages = device.TargetPages,
            ActualPages = device.ActualPages,
            TargetMib = device.TargetPages / pagesPerMib,
            ActualMib = device.ActualPages / pagesPerMib,
            SwapIn = stats.Get(BalloonStatTag.SwapIn),
            SwapOut = stats.Get(BalloonStatTag.SwapOut),
            MajorFaults = stats.Get(BalloonStatTag.MajorFaults),
            MinorFaults = stats.Get(BalloonStatTag.MinorFaults),
            FreeMemory = stats.Get(BalloonStatTag.FreeMemory),
            TotalMemory = stats.Get(BalloonStatTag.TotalMemory),
            AvailableMemory = stats.Get(BalloonStatTag.AvailableMemory),
            DiskCaches = stats.Get(BalloonStatTag.DiskCaches),
            HugetlbAllocations = stats.Get(BalloonStatTag.HugePageAllocations),
            HugetlbFailures = stats.Get(BalloonStatTag.HugePageFailures),
        }, Json.BalloonStats);
    }

    private VirtioBalloonDevice RunningBalloon() =>
        _machine.Current?.Balloon ?? throw new ApiFault(_machine.Phase == MachinePhase.NotStarted
            ? "the machine has not started" : "there is no balloon device");
}
