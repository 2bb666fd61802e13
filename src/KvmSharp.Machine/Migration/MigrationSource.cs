using System.Diagnostics;
using System.Net.Sockets;
using KvmSharp.Machine.Runtime;
using KvmSharp.Machine.State;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Migration;

/// <summary>
/// The source's pre-copy (as QEMU's RAM migration): send every page the guest has touched while it runs, with the
/// dirty log on; then in rounds pause briefly to take the log, resume, and send those pages again, measuring the
/// dirty rate and the link's bandwidth; once the pages left would go within the downtime budget (or after
/// <see cref="MigrationOptions.MaxRounds"/>), pause for good, send the rest and the machine state, and wait for
/// the destination to say it runs. Every failure turns the logs off and leaves the machine running as it was
/// (resumed if this paused it); the caller stops the source only after <see cref="Run"/> returns.
/// </summary>
/// <param name="pause">Pauses the machine (the controller's pause: consoles held, vCPUs parked, devices quiesced).</param>
/// <param name="resume">Undoes <paramref name="pause"/>.</param>
/// <param name="publish">Receives each progress update.</param>
public sealed class MigrationSource(RunningMachine machine, Action pause, Action resume, MigrationOptions options, Action<MigrationStatus> publish)
{
    private const double PageBytes = MigrationFormat.PageSize;
    private MigrationStatus _status = new() { State = MigrationState.Active };

    /// <summary>Migrates to <paramref name="url"/>; returns the completed status, throws a <see cref="MigrationException"/> with the reason.</summary>
    public MigrationStatus Run(MigrationUrl url)
    {
        var total = Stopwatch.StartNew();
        Publish(_status);
        Socket socket;
        try
        {
            socket = url.Connect(options.ConnectTimeout);
        }
        catch (MigrationException e)
        {
            Publish(_status with { State = MigrationState.Failed, Error = e.Message });
            throw;
        }
        using var _ = socket;
        socket.SendTimeout = (int)options.IoTimeout.TotalMilliseconds;
        socket.ReceiveTimeout = (int)options.IoTimeout.TotalMilliseconds;
        using var connection = new NetworkStream(socket, ownsSocket: false);
        using var writer = new MigrationWriter(connection);
        bool paused = false, logging = false;
        try
        {
            writer.WriteHeader(machine.Memory.Size);
            writer.Flush();
            writer.ExpectReply(MigrationReply.Accepted, "its answer to the stream's header");

            pause(); paused = true;
            machine.StartDirtyLog(); logging = true;
            resume(); paused = false;

            // Round 0: everything the guest has touched. Its dirty pages go in the rounds after.
            var roundClock = Stopwatch.StartNew();
            writer.WriteRound(0, 0);
            long before = writer.BytesWritten;
            writer.WritePages(machine.Memory, PagesInUse(machine.Memory), skipZero: true);
            writer.Flush();
            double bandwidth = Math.Max(writer.BytesWritten - before, 1) / Math.Max(roundClock.Elapsed.TotalSeconds, 1e-4);
            Progress(writer, 1, 0, bandwidth, 0);

            var dirty = new DirtyPageBitmap(machine.Memory.Regions);
            for (uint round = 1; ; round++)
            {
                long pausedAt = Stopwatch.GetTimestamp();
                pause(); paused = true;
                machine.CollectDirtyPages(dirty);
                double sinceLast = Math.Max(roundClock.Elapsed.TotalSeconds, 1e-4);
                long count = dirty.Count();
                double expectedMs = count * PageBytes / bandwidth * 1000;
                Progress(writer, (int)round, count / sinceLast, bandwidth, expectedMs);
                if (expectedMs <= options.DowntimeBudget.TotalMilliseconds || round > (uint)options.MaxRounds)
                    return Finish(writer, socket, dirty, round, count, total, pausedAt, expectedMs);

                GuestAddress[] pages = [.. dirty.DirtyPages()];
                dirty.Clear();
                resume(); paused = false;
                roundClock.Restart();
                writer.WriteRound(round, (ulong)count);
                before = writer.BytesWritten;
                writer.WritePages(machine.Memory, pages, skipZero: false);
                writer.Flush();
                double seconds = roundClock.Elapsed.TotalSeconds;
                // A round of a few pages says little about the link: keep the last estimate then.
                if (writer.BytesWritten - before >= 256 << 10) bandwidth = (writer.BytesWritten - before) / Math.Max(seconds, 1e-4);
            }
        }
        catch (Exception e)
        {
            if (logging) Try(machine.StopDirtyLog);
            if (_disksHandedOver) Try(machine.ReacquireDiskLocks);
            if (paused) Try(resume);
            var failure = e switch
            {
                MigrationException => e,
                IOException io => new MigrationException($"the connection to {url.Text} failed: {io.InnerException?.Message ?? io.Message}", e),
                ObjectDisposedException => new MigrationException("the machine ended during the migration", e),
                _ => new MigrationException($"the migration failed: {e.Message}", e),
            };
            Publish(_status with { State = MigrationState.Failed, BytesSent = writer.BytesWritten, Error = failure.Message });
            throw failure;
        }
    }

    /// <summary>Paused for good: the last pages, the state, the end, and the destination's answer.</summary>
    private MigrationStatus Finish(MigrationWriter writer, Socket socket, DirtyPageBitmap dirty, uint round, long count,
        Stopwatch total, long pausedAt, double expectedMs)
    {
        writer.WriteRound(round, (ulong)count);
        writer.WritePages(machine.Memory, dirty.DirtyPages(), skipZero: false);
        var state = MachineStateJson.Serialize(machine.SaveState());
        // Shared disks change hands now (QEMU inactivates its images here): written through, unlocked, so the
        // destination can open them before it runs; a failure from here takes them back (the catch above).
        _disksHandedOver = true;
        machine.ReleaseDiskLocks();
        writer.WriteState(state);
        writer.WriteEnd();
        socket.ReceiveTimeout = (int)options.AckTimeout.TotalMilliseconds;
        writer.ExpectReply(MigrationReply.Running, "the machine to run there");
        // The destination runs the machine now: the source must not run it again, so its log stays as it is.
        machine.StopDirtyLog();
        var done = _status with
        {
            State = MigrationState.Completed,
            BytesSent = writer.BytesWritten,
            Iterations = (int)round + 1,
            ExpectedDowntimeMs = expectedMs,
            TotalTime = total.Elapsed,
            Downtime = Stopwatch.GetElapsedTime(pausedAt),
        };
        Publish(done);
        return done;
    }

    private bool _disksHandedOver;

    private void Progress(MigrationWriter writer, int iterations, double dirtyRate, double bandwidth, double expectedMs) =>
        Publish(_status with
        {
            BytesSent = writer.BytesWritten,
            Iterations = iterations,
            DirtyRatePagesPerSecond = dirtyRate,
            BandwidthBytesPerSecond = bandwidth,
            ExpectedDowntimeMs = expectedMs,
        });

    private void Publish(MigrationStatus status)
    {
        _status = status;
        publish(status);
    }

    /// <summary>Every page that may hold data, in address order (pages never touched are skipped without reading them).</summary>
    private static IEnumerable<GuestAddress> PagesInUse(GuestMemory memory)
    {
        const int chunk = 512;
        var inUse = new bool[chunk];
        for (int r = 0; r < memory.Regions.Count; r++)
        {
            var region = memory.Regions[r];
            for (ulong offset = 0; offset < region.Size; offset += chunk * MemoryMap.PageSize)
            {
                memory.PagesInUse(r, offset, inUse);
                for (int i = 0; i < chunk; i++)
                    if (inUse[i]) yield return new GuestAddress(region.Start.Value + offset + (ulong)i * MemoryMap.PageSize);
            }
        }
    }

    private static void Try(Action action)
    {
        try { action(); }
        catch (Exception) { /* the failure being reported matters more than this one */ }
    }
}
