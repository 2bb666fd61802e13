using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio;

/// <summary>
/// A device's own thread: waits in poll(2) on the descriptors it watches (queue notifiers, a tap, sockets)
/// and runs each one's handler when it is ready, so device work never runs on a vCPU thread.
/// <see cref="Watch"/>, <see cref="Modify"/> and <see cref="Unwatch"/> may be called before
/// <see cref="Start"/> or from a handler; other threads hand work over with <see cref="Post"/>.
/// A handler that throws does not end the loop: the exception goes to the fault callback (the device
/// marks itself NEEDS_RESET there), so no guest input can take the thread down.
/// <para>
/// <see cref="Pause"/> parks the thread between rounds (the handler running now finishes first) and returns once
/// it is parked; nothing runs until <see cref="Resume"/>, and what became ready meanwhile (a doorbell, a readable
/// socket, a posted action) is handled then: eventfds and sockets stay readable, posted actions stay queued.
/// </para>
/// </summary>
public sealed partial class DeviceEventLoop : IDisposable
{
    private sealed class Watcher(SafeHandle handle, short events, Action<short> onReady)
    {
        public SafeHandle Handle { get; } = handle;
        public short Events { get; set; } = events;
        public Action<short> OnReady { get; } = onReady;
        public bool Removed { get; set; }
    }

    private readonly string _name;
    private readonly Action<Exception> _onFault;
    private readonly EventNotifier _wake = new();
    private readonly List<Watcher> _watchers = [];
    private readonly Queue<Action> _posted = new();
    private readonly Lock _postLock = new();
    private PollFd[] _pollFds = [];
    private SafeHandle?[] _pollHandles = [];
    private Watcher[] _polled = [];
    private bool _dirty = true;
    private volatile bool _stopping;
    private Thread? _thread;
    // Pausing: the loop thread parks on this monitor between rounds while _pauseWanted is set.
    private readonly object _park = new();
    private volatile bool _pauseWanted;
    private bool _parked;

    /// <param name="name">The thread's name, e.g. "virtio-blk0".</param>
    /// <param name="onFault">Called on the loop thread with whatever a handler or posted action threw.</param>
    public DeviceEventLoop(string name, Action<Exception> onFault)
    {
        _name = name;
        _onFault = onFault;
    }

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>
    /// A pause is waiting for this round to end: a handler working through a long queue may stop between requests
    /// (its owner serves the rest after the resume), so that a pause does not wait for a whole ring of work.
    /// </summary>
    public bool PauseRequested => _pauseWanted;

    /// <summary>Runs <paramref name="onReady"/> with the revents whenever <paramref name="handle"/> has any of <paramref name="events"/> (POLLIN, POLLOUT; errors and hang-ups always).</summary>
    public void Watch(SafeHandle handle, short events, Action<short> onReady)
    {
        CheckThread();
        _watchers.Add(new Watcher(handle, events, onReady));
        _dirty = true;
    }

    /// <summary>Changes what <paramref name="handle"/> is watched for (say POLLOUT only while output is pending).</summary>
    public void Modify(SafeHandle handle, short events)
    {
        CheckThread();
        foreach (var w in _watchers)
            if (w.Handle == handle) w.Events = events;
        _dirty = true;
    }

    /// <summary>Stops watching <paramref name="handle"/>; its handler is not called again, even later in the same round.</summary>
    public void Unwatch(SafeHandle handle)
    {
        CheckThread();
        foreach (var w in _watchers)
            if (w.Handle == handle) w.Removed = true;
        _watchers.RemoveAll(w => w.Handle == handle);
        _dirty = true;
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread soon; callable from any thread.</summary>
    public void Post(Action action)
    {
        lock (_postLock) _posted.Enqueue(action);
        _wake.Signal();
    }

    public void Start()
    {
        if (_thread is not null) throw new InvalidOperationException($"{_name} is already running");
        _stopping = false;
        var thread = new Thread(Run) { Name = _name, IsBackground = true };
        lock (_park) _thread = thread;
        thread.Start();
    }

    /// <summary>
    /// Parks the loop thread after its current round and returns when it is parked (at once when the loop has not
    /// started: it parks before its first round). Not from the loop thread.
    /// </summary>
    public void Pause()
    {
        if (IsLoopThread) throw new InvalidOperationException("a device loop cannot pause itself from its own thread");
        lock (_park)
        {
            _pauseWanted = true;
            if (_thread is null) return;
        }
        _wake.Signal();
        lock (_park)
            while (!_parked && _thread is not null && !_stopping) Monitor.Wait(_park);
    }

    /// <summary>Lets a paused loop run again.</summary>
    public void Resume()
    {
        lock (_park)
        {
            _pauseWanted = false;
            Monitor.PulseAll(_park);
        }
    }

    private void Park()
    {
        lock (_park)
        {
            _parked = true;
            Monitor.PulseAll(_park);
            while (_pauseWanted && !_stopping) Monitor.Wait(_park);
            _parked = false;
        }
    }

    /// <summary>Ends the loop and waits for its thread; handlers still running finish first. Not from the loop thread.</summary>
    public void Stop()
    {
        if (_thread is null) return;
        if (IsLoopThread) throw new InvalidOperationException("a device loop cannot stop itself from its own thread");
        _stopping = true;
        lock (_park) Monitor.PulseAll(_park);   // a parked loop wakes to stop
        _wake.Signal();
        _thread.Join();
        lock (_park) _thread = null;
        lock (_postLock) _posted.Clear();
    }

    public void Dispose()
    {
        Stop();
        _wake.Dispose();
    }

    private void CheckThread()
    {
        if (_thread is not null && !IsLoopThread)
            throw new InvalidOperationException($"{_name}: watch lists change only on the loop thread (use Post)");
    }

    private void Run()
    {
        while (!_stopping)
        {
            if (_pauseWanted) Park();
            if (_stopping) break;
            if (_dirty) Rebuild();
            // Each handle is leased for the poll (a watcher's owner closing it meanwhile closes it after the call), so no
            // number polled can belong to another file; one disposed before the round polls as -1 and stays quiet.
            int ready = HandlePoll.Wait(_pollHandles, _pollFds, PollTimeoutMs());
            if (ready < 0)
            {
                if (ready == -LibcConstants.EINTR) continue;
                _onFault(new NativeException($"poll in {_name}", -ready));
                return;
            }
            if (_pollFds[0].Revents != 0)
            {
                _wake.Drain();
                RunPosted();
            }
            for (int i = 1; i < _pollFds.Length && !_stopping; i++)
            {
                short revents = _pollFds[i].Revents;
                var watcher = _polled[i];
                if (revents == 0 || watcher.Removed) continue;
                try { watcher.OnReady(revents); }
                catch (Exception e) { _onFault(e); }
            }
            RunDueTimers();
        }
    }

    private void RunPosted()
    {
        while (!_stopping)
        {
            Action? action;
            lock (_postLock) if (!_posted.TryDequeue(out action)) return;
            try { action(); }
            catch (Exception e) { _onFault(e); }
        }
    }

    private void Rebuild()
    {
        _dirty = false;
        _pollFds = new PollFd[_watchers.Count + 1];
        _pollHandles = new SafeHandle?[_watchers.Count + 1];
        _polled = new Watcher[_watchers.Count + 1];
        _pollFds[0] = new PollFd { Events = LibcConstants.POLLIN };
        _pollHandles[0] = _wake.Handle;
        for (int i = 0; i < _watchers.Count; i++)
        {
            var w = _watchers[i];
            _polled[i + 1] = w;
            // HandlePoll fills in the numbers each round; a closed handle polls as -1 (poll(2) skips it), so a watcher
            // whose fd its owner closed goes quiet.
            _pollFds[i + 1] = new PollFd { Events = w.Events };
            _pollHandles[i + 1] = w.Handle;
        }
    }
}
