using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio;

/// <summary>
/// The activation life cycle that small devices share: at DRIVER_OK a new <see cref="DeviceEventLoop"/>
/// watches every queue's notifier and calls <see cref="ServeQueue"/> on the loop thread (once for every
/// queue at start too: the driver may have notified before DRIVER_OK); a <see cref="VirtQueueException"/>
/// or any other failure marks the device NEEDS_RESET (virtio 1.2 §2.1.2) and it serves nothing more until
/// <see cref="Reset"/>, which stops and joins the loop.
/// <para>
/// Pausing parks the loop: a request being served is finished (its used entry and interrupt included) and nothing
/// more is taken from the queues, so no guest memory is written until <see cref="Resume"/>, which also looks at
/// every queue once. A device paused before DRIVER_OK starts paused.
/// </para>
/// </summary>
public abstract class QueueServingDevice(string name, Action<string> notice) : IVirtioDevice, IPausable
{
    private readonly Lock _lifecycle = new();
    private bool _paused;
    private DeviceEventLoop? _loop;
    private volatile bool _broken;
    private volatile VirtioActivation? _activation;

    /// <summary>Says <paramref name="message"/> once per device (guest mistakes that the device survives, which could repeat per request).</summary>
    protected void NoticeOnce(ref int said, string message)
    {
        if (Interlocked.Exchange(ref said, 1) == 0) notice($"{name}: {message}");
    }

    /// <summary>The running activation (readable from any thread); set before the loop starts, cleared only after it stopped.</summary>
    protected VirtioActivation? Activation => _activation;

    /// <summary>True after a failure until reset: handlers return at once.</summary>
    protected bool IsBroken => _broken;

    /// <summary>
    /// A pause is waiting: a handler should stop taking chains (finishing the one in hand); <see cref="Resume"/> serves
    /// every queue again, so the rest is not lost.
    /// </summary>
    protected bool PauseRequested => _loop?.PauseRequested ?? false;

    public abstract VirtioDeviceType DeviceType { get; }
    public abstract ulong DeviceFeatures { get; }
    public abstract IReadOnlyList<ushort> QueueSizes { get; }
    public abstract int ConfigSize { get; }
    public abstract void ReadConfig(int offset, Span<byte> data);
    public abstract void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>Takes every chain the driver made available on <paramref name="queue"/> (loop thread).</summary>
    protected abstract void ServeQueue(int queue);

    /// <summary>Adds the device's own watches (loop not started yet); the default has none.</summary>
    protected virtual void OnActivate(DeviceEventLoop loop) { }

    /// <summary>Forgets per-activation state after the loop has stopped.</summary>
    protected virtual void OnReset() { }

    public void Activate(VirtioActivation activation)
    {
        lock (_lifecycle) ActivateLocked(activation);
    }

    private void ActivateLocked(VirtioActivation activation)
    {
        if (_loop is not null) ResetLocked();   // a second DRIVER_OK without a reset: start afresh
        _activation = activation;
        var loop = new DeviceEventLoop(name, OnLoopFault);
        for (int i = 0; i < activation.Queues.Count && i < activation.Notifiers.Count; i++)
        {
            int queue = i;
            EventNotifier notifier = activation.Notifiers[i];
            loop.Watch(notifier.Handle, LibcConstants.POLLIN, _ =>
            {
                notifier.Drain();
                Serve(queue);
            });
        }
        OnActivate(loop);
        loop.Post(() =>
        {
            for (int i = 0; i < activation.Queues.Count; i++) Serve(i);
        });
        _loop = loop;
        if (_paused) loop.Pause();   // parks before its first round
        loop.Start();
    }

    public void Reset()
    {
        lock (_lifecycle) ResetLocked();
    }

    private void ResetLocked()
    {
        _loop?.Dispose();
        _loop = null;
        _activation = null;
        _broken = false;
        OnReset();
    }

    /// <summary>Parks the device's loop once the request in hand is done (see the class remarks).</summary>
    public void Pause()
    {
        lock (_lifecycle)
        {
            _paused = true;
            _loop?.Pause();
        }
    }

    /// <summary>Unparks the loop and serves every queue once (whatever the driver made available meanwhile).</summary>
    public void Resume()
    {
        lock (_lifecycle)
        {
            _paused = false;
            if (_loop is not { } loop || _activation is not { } activation) return;
            loop.Resume();
            loop.Post(() =>
            {
                for (int i = 0; i < activation.Queues.Count; i++) Serve(i);
            });
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread when active; false (not run) when not.</summary>
    protected bool Post(Action action)
    {
        var loop = _loop;
        if (loop is null) return false;
        loop.Post(action);
        return true;
    }

    /// <summary>Serves <paramref name="queue"/> unless broken, turning a malformed queue into NEEDS_RESET.</summary>
    protected void Serve(int queue)
    {
        if (_broken || Activation is not { } activation || queue >= activation.Queues.Count || !activation.Queues[queue].IsReady) return;
        try { ServeQueue(queue); }
        catch (VirtQueueException e) { Fail(e); }
    }

    /// <summary>Marks the device broken (the driver must reset it) and says why once.</summary>
    protected void Fail(Exception reason) => Fail(reason.Message);

    /// <inheritdoc cref="Fail(Exception)"/>
    protected void Fail(string reason)
    {
        if (_broken) return;
        _broken = true;
        Activation?.Interrupts.MarkNeedsReset($"{name}: {reason}");
    }

    /// <summary>
    /// The loop's last resort: a malformed queue is the guest's doing; anything else escaping a handler is
    /// our bug, so it is also told to the user, as "unexpected".
    /// </summary>
    private void OnLoopFault(Exception e)
    {
        if (e is VirtQueueException) { Fail(e); return; }
        notice($"{name}: unexpected {e.GetType().Name}: {e.Message}");
        Fail($"unexpected {e.GetType().Name}: {e.Message}");
    }

    public void Dispose()
    {
        Reset();
        ReleaseResources();
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes what the device owns beyond one activation (after the loop stopped).</summary>
    protected virtual void ReleaseResources() { }
}
