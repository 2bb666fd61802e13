using System.Net.Sockets;
using KvmSharp.Machine.Migration;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Machine.Control;

// Live migration: this machine to another process (Migrate), or a machine from another process (ReceiveMigration).
public sealed partial class MachineController
{
    /// <summary>How long the destination waits for the next bytes of the stream before it gives up.</summary>
    private static readonly TimeSpan IncomingIdleTimeout = TimeSpan.FromSeconds(60);

    private volatile MigrationStatus _migrationStatus = MigrationStatus.None;
    private bool _migrating;
    private CancellationTokenSource? _incoming;

    /// <summary>The last migration's progress (GET /migrate); <see cref="MigrationStatus.None"/> before any.</summary>
    public MigrationStatus MigrationStatus => _migrationStatus;

    /// <summary>
    /// Live-migrates the running machine to <paramref name="destinationUrl"/> (<c>unix:PATH</c> or <c>tcp:HOST:PORT</c>)
    /// where a controller waits in <see cref="ReceiveMigration"/>. Returns once the destination runs it; this machine has
    /// then stopped (its exit: Stopped, status 0). Any failure throws a <see cref="MigrationException"/> saying why and
    /// leaves this machine running with nothing lost. The user cannot pause or resume while it runs.
    /// </summary>
    public MigrationStatus Migrate(string destinationUrl, MigrationOptions? options = null)
    {
        var url = MigrationUrl.Parse(destinationUrl);
        RunningMachine machine;
        lock (_lock)
        {
            RequirePhase("migrate", MachinePhase.Running);
            if (_migrating) throw new MachinePhaseException("cannot migrate: a migration is already running");
            _migrating = true;
            machine = _machine!;
        }
        try
        {
            var source = new MigrationSource(machine, () => PauseForMigration(machine), () => ResumeForMigration(machine),
                options ?? new MigrationOptions(), status => _migrationStatus = status);
            var done = source.Run(url);
            _options.Notices($"kvmsharp: migrated to {url.Text}: total {done.TotalTime?.TotalMilliseconds:0.0} ms, downtime {done.Downtime?.TotalMilliseconds:0.0} ms, {done.BytesSent} bytes, {done.Iterations} rounds");
            Stop($"migrated to {url.Text}");
            return done;
        }
        catch (MigrationException e)
        {
            _options.Notices($"kvmsharp: migration to {url.Text} failed; the machine runs on here: {e.Message}");
            throw;
        }
        finally
        {
            lock (_lock) _migrating = false;
        }
    }

    private void PauseForMigration(RunningMachine machine)
    {
        lock (_lock)
        {
            RequireSameBoot(machine);
            PauseLocked();
        }
    }

    private void ResumeForMigration(RunningMachine machine)
    {
        lock (_lock)
        {
            RequireSameBoot(machine);
            ResumeLocked();
        }
    }

    private void RequireSameBoot(RunningMachine machine)
    {
        if (!ReferenceEquals(_machine, machine) || _stopRequested)
            throw new MigrationException("the machine rebooted or stopped during the migration");
    }

    private void RefuseDuringMigration(string action)
    {
        if (_migrating) throw new MachinePhaseException($"cannot {action}: a migration is running");
    }

    /// <summary>
    /// Waits on <paramref name="url"/> for one source's migration stream, builds the machine it carries over the RAM
    /// it sent (its disks opened again at the same paths: storage is shared), runs it, and tells the source. The
    /// phase goes from NotStarted to Running. A broken stream, a machine that cannot be built here (a disk that does
    /// not open), <see cref="Stop"/> or <paramref name="cancel"/> end the wait with one line and nothing started.
    /// </summary>
    public void ReceiveMigration(string url, CancellationToken cancel = default)
    {
        var parsed = MigrationUrl.Parse(url);
        CancellationTokenSource incoming;
        lock (_lock)
        {
            RequirePhase("receive a migration", MachinePhase.NotStarted);
            if (_incoming is not null) throw new MachinePhaseException("cannot receive a migration: already waiting for one");
            _incoming = incoming = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        }
        try
        {
            using var connection = Accept(parsed, incoming.Token);
            connection.ReceiveTimeout = connection.SendTimeout = (int)IncomingIdleTimeout.TotalMilliseconds;
            using var stream = new NetworkStream(connection, ownsSocket: false);
            var received = MigrationReceiver.Receive(stream);
            try
            {
                lock (_lock)
                {
                    RequirePhase("receive a migration", MachinePhase.NotStarted);
                    BecomeRestored(received.State, (state, builder) => builder.BuildForRestore(state, received.Memory));
                    ResumeLocked();
                }
            }
            catch (Exception e)
            {
                // Until a machine owns the memory, it is ours to free.
                lock (_lock) if (_machine is null) received.Memory.Dispose();
                try { MigrationWriter.WriteReply(stream, MigrationReply.Refused, e.Message); }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException) { /* the source is gone */ }
                throw;
            }
            try
            {
                MigrationWriter.WriteReply(stream, MigrationReply.Running);
            }
            catch (IOException e)
            {
                // The machine runs here; a source that never heard so resumes its own copy after its timeout.
                _options.Notices($"kvmsharp: the migrated machine runs, but the source could not be told: {e.Message}");
            }
        }
        finally
        {
            lock (_lock) _incoming = null;
            incoming.Dispose();
        }
    }

    private static Socket Accept(MigrationUrl url, CancellationToken cancel)
    {
        using var listener = url.Listen();
        try
        {
            return listener.AcceptAsync(cancel).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new MachinePhaseException($"stopped while waiting for a migration on {url.Text}");
        }
        finally
        {
            // One source only: nobody else may connect, and the socket file is not left behind.
            if (url.IsUnix) File.Delete(url.EndPoint.ToString()!);
        }
    }
}
