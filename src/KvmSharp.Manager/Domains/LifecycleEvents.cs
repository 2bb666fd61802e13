namespace KvmSharp.Manager.Domains;

/// <summary>virDomainEventType values and the details the manager emits (libvirt's include/libvirt/libvirt-domain.h, read from python3-libvirt 9.0).</summary>
public static class LifecycleEvent
{
    public const int Defined = 0, Undefined = 1, Started = 2, Suspended = 3, Resumed = 4, Stopped = 5, Shutdown = 6;

    public const int DefinedAdded = 0, DefinedUpdated = 1, UndefinedRemoved = 0;
    public const int StartedBooted = 0, StartedRestored = 2, StartedFromSnapshot = 3;
    public const int SuspendedPaused = 0, ResumedUnpaused = 0, ResumedFromSnapshot = 2;
    public const int StoppedShutdown = 0, StoppedDestroyed = 1, StoppedCrashed = 2, StoppedSaved = 4, StoppedFailed = 5, StoppedFromSnapshot = 6;
    public const int ShutdownFinished = 0;
}

/// <summary>virDomain*Reason values for <see cref="DomainStateAndReason"/>.</summary>
public static class StateReason
{
    public const int RunningBooted = 1, RunningRestored = 3, RunningFromSnapshot = 4, RunningUnpaused = 5;
    public const int PausedUser = 1, PausedSave = 3, PausedSnapshot = 9, PausedStartingUp = 11;
    public const int ShutoffUnknown = 0, ShutoffShutdown = 1, ShutoffDestroyed = 2, ShutoffCrashed = 3, ShutoffSaved = 5, ShutoffFailed = 6, ShutoffFromSnapshot = 7;
}

/// <summary>The subscribers of lifecycle events; a handler that throws is dropped from nothing and harms no other.</summary>
internal sealed class LifecycleHub
{
    private readonly Lock _lock = new();
    private Action<DomainLifecycleEvent>[] _handlers = [];

    public IDisposable Subscribe(Action<DomainLifecycleEvent> handler)
    {
        lock (_lock) _handlers = [.. _handlers, handler];
        return new Subscription(this, handler);
    }

    public void Raise(DomainRef domain, int @event, int detail)
    {
        var e = new DomainLifecycleEvent(domain, @event, detail);
        foreach (var handler in Volatile.Read(ref _handlers))
        {
            try { handler(e); }
            catch (Exception) { }   // one broken client connection must not stop the others' events
        }
    }

    private void Remove(Action<DomainLifecycleEvent> handler)
    {
        lock (_lock) _handlers = [.. _handlers.Where(h => h != handler)];
    }

    private sealed class Subscription(LifecycleHub hub, Action<DomainLifecycleEvent> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) hub.Remove(handler);
        }
    }
}
