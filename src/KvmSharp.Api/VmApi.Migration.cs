using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;
using KvmSharp.Machine.Migration;

namespace KvmSharp.Api;

// Live migration (ours; Firecracker has none): PUT /migrate runs it to the end, GET /migrate shows its progress.
public sealed partial class VmApi
{
    /// <summary>The most downtime a client may allow; more is a mistake, not a budget.</summary>
    private const uint MaxDowntimeMs = 60_000;

    /// <summary>
    /// Migrates the running machine and answers 204 only once the destination runs it; this machine has then
    /// stopped, so the process exits 0. A failure answers 400 with the reason, and the machine runs on here.
    /// </summary>
    private async Task PutMigrate(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.MigrateParams);
        if (request.DowntimeMs is 0 or > MaxDowntimeMs) throw new ApiFault($"downtime_ms: {request.DowntimeMs} is not 1 to {MaxDowntimeMs}");
        if (request.MaxIterations is 0 or > 1000) throw new ApiFault($"max_iterations: {request.MaxIterations} is not 1 to 1000");
        var defaults = new MigrationOptions();
        var options = defaults with
        {
            DowntimeBudget = request.DowntimeMs is { } ms ? TimeSpan.FromMilliseconds(ms) : defaults.DowntimeBudget,
            MaxRounds = request.MaxIterations is { } rounds ? (int)rounds : defaults.MaxRounds,
        };
        try
        {
            // Seconds of copying: off the request thread's pool slot.
            await Task.Factory.StartNew(() => _machine.Migrate(request.DestinationUrl, options), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (MigrationException e)
        {
            throw new ApiFault($"the migration failed and the machine runs on here: {e.Message}");
        }
        await NoContent(context);
    }

    private Task GetMigrate(HttpExchange context)
    {
        var status = _machine.MigrationStatus;
        return Write(context, new MigrationInfo
        {
            State = status.State switch
            {
                MigrationState.Active => "active",
                MigrationState.Completed => "completed",
                MigrationState.Failed => "failed",
                _ => "none",
            },
            BytesSent = status.BytesSent,
            Iterations = status.Iterations,
            DirtyRatePagesPerS = Math.Round(status.DirtyRatePagesPerSecond, 1),
            ExpectedDowntimeMs = Math.Round(status.ExpectedDowntimeMs, 3),
            TotalTimeMs = status.TotalTime?.TotalMilliseconds,
            DowntimeMs = status.Downtime?.TotalMilliseconds,
            Error = status.Error,
        }, Json.MigrationInfo);
    }
}
