using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// What one client connection holds: whether CONNECT_OPEN was called and read-only, its event registrations (one
/// driver subscription shared by them) and its console streams. Disposing it ends them all.
/// </summary>
internal sealed class RemoteSession : IDisposable
{
    /// <summary>A hostile client may not register without bound.</summary>
    public const int MaxEventCallbacks = 1024;
    public const int MaxStreams = 64;

    private readonly Lock _gate = new();
    private readonly PacketSender _sender;
    private readonly IDomainDriver _driver;
    private readonly Dictionary<int, Guid?> _callbacks = [];
    private readonly Dictionary<uint, IRemoteStream> _streams = [];
    private int _nextCallbackId;
    private bool _legacyLifecycle;
    private IDisposable? _subscription;
    private bool _disposed;

    public RemoteSession(PacketSender sender, IDomainDriver driver, ILogger logger, string name, bool readOnlySocket)
    {
        _sender = sender;
        _driver = driver;
        Logger = logger;
        Name = name;
        ReadOnly = readOnlySocket;
    }

    public ILogger Logger { get; }

    /// <summary>For log lines: which connection.</summary>
    public string Name { get; }

    public bool IsOpen { get; private set; }

    /// <summary>The read-only socket, or CONNECT_OPEN with VIR_CONNECT_RO: nothing may change.</summary>
    public bool ReadOnly { get; private set; }

    /// <summary>The name CONNECT_OPEN was given (the URI less transport and query).</summary>
    public string? Uri { get; private set; }

    public bool Send(byte[] packet) => _sender.Send(packet);

    /// <summary>Bytes queued for the client and not yet written: a stream's producer waits while this is high.</summary>
    public long QueuedBytes => _sender.QueuedBytes;

    public void Open(string? uri, bool readOnly)
    {
        IsOpen = true;
        Uri = uri;
        ReadOnly |= readOnly;
    }

    /// <summary>CONNECT_CLOSE: the events and consoles end; the socket stays until the client closes it.</summary>
    public void Close()
    {
        IsOpen = false;
        EndAll();
    }

    // ---- events ----

    /// <summary>CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY (316) for the lifecycle event; <paramref name="domain"/> filters.</summary>
    public int AddLifecycleCallback(Guid? domain)
    {
        lock (_gate)
        {
            if (_callbacks.Count >= MaxEventCallbacks)
                throw new ManagerException(ManagerError.OperationFailed, $"too many event callbacks (at most {MaxEventCallbacks} per connection)");
            int id = _nextCallbackId++;
            _callbacks.Add(id, domain);
            Subscribe();
            return id;
        }
    }

    public void RemoveCallback(int callbackId)
    {
        IDisposable? unused;
        lock (_gate)
        {
            if (!_callbacks.Remove(callbackId))
                throw new ManagerException(ManagerError.InvalidArg, $"event callback {callbackId} is not registered on this connection");
            unused = TakeUnusedSubscription();
        }
        unused?.Dispose();
    }

    /// <summary>The legacy CONNECT_DOMAIN_EVENT_REGISTER_ANY (167): one registration per event id, no filter.</summary>
    public void SetLegacyLifecycle(bool registered)
    {
        IDisposable? unused = null;
        lock (_gate)
        {
            if (registered == _legacyLifecycle)
                throw new ManagerException(ManagerError.InternalError,
                    registered ? "domain event 0 already registered" : "domain event 0 not registered");
            _legacyLifecycle = registered;
            if (registered) Subscribe();
            else unused = TakeUnusedSubscription();
        }
        unused?.Dispose();
    }

    // ---- streams (consoles, volume uploads and downloads) ----

    public void AddStream(uint serial, IRemoteStream stream)
    {
        lock (_gate)
        {
            if (_disposed) throw new ManagerException(ManagerError.OperationFailed, "the connection is closing");
            if (_streams.Count >= MaxStreams)
                throw new ManagerException(ManagerError.OperationFailed, $"too many open streams (at most {MaxStreams} per connection)");
            if (!_streams.TryAdd(serial, stream))
                throw new ManagerException(ManagerError.OperationInvalid, $"a stream with serial {serial} is already open");
        }
    }

    public bool HasStream(uint serial)
    {
        lock (_gate) return _streams.ContainsKey(serial);
    }

    public IRemoteStream? FindStream(uint serial)
    {
        lock (_gate) return _streams.GetValueOrDefault(serial);
    }

    public void RemoveStream(uint serial, IRemoteStream stream)
    {
        lock (_gate)
        {
            if (_streams.TryGetValue(serial, out var current) && current == stream) _streams.Remove(serial);
        }
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        EndAll();
    }

    private void EndAll()
    {
        IDisposable? subscription;
        List<IRemoteStream> streams;
        lock (_gate)
        {
            subscription = _subscription;
            _subscription = null;
            _callbacks.Clear();
            _legacyLifecycle = false;
            streams = [.. _streams.Values];
            _streams.Clear();
        }
        try
        {
            subscription?.Dispose();
        }
        catch (Exception e)
        {
            Logger.LogWarning("{Connection}: ending the event subscription failed: {Reason}", Name, e.Message);
        }
        foreach (var stream in streams) stream.Abandon();
    }

    private void Subscribe()
    {
        if (_subscription is null && !_disposed) _subscription = _driver.SubscribeLifecycle(OnLifecycle);
    }

    /// <summary>The subscription once no registration needs it, to be disposed outside the lock (the driver may wait for a running handler, which takes the lock).</summary>
    private IDisposable? TakeUnusedSubscription()
    {
        if (_callbacks.Count > 0 || _legacyLifecycle) return null;
        var subscription = _subscription;
        _subscription = null;
        return subscription;
    }

    /// <summary>
    /// One MESSAGE packet (serial 0) per matching registration: DOMAIN_EVENT_CALLBACK_LIFECYCLE (318)
    /// {int callbackID; {dom; int event; int detail}}, or the legacy DOMAIN_EVENT_LIFECYCLE (107) {dom; event; detail}.
    /// </summary>
    private void OnLifecycle(DomainLifecycleEvent e)
    {
        List<int> ids = [];
        bool legacy;
        lock (_gate)
        {
            foreach (var (id, filter) in _callbacks)
                if (filter is null || filter == e.Domain.Uuid) ids.Add(id);
            legacy = _legacyLifecycle;
        }
        try
        {
            foreach (int id in ids)
                Send(RpcPacket.Build(EventHeader(RemoteProcedure.DomainEventCallbackLifecycle), w =>
                {
                    w.WriteInt32(id);
                    WriteLifecycle(w, e);
                }));
            if (legacy) Send(RpcPacket.Build(EventHeader(RemoteProcedure.DomainEventLifecycle), w => WriteLifecycle(w, e)));
        }
        catch (Exception x)
        {
            // Called on the driver's thread: a failure here must not reach it.
            Logger.LogWarning("{Connection}: lifecycle event for '{Domain}' not sent: {Reason}", Name, e.Domain.Name, x.Message);
        }
    }

    private static RpcHeader EventHeader(RemoteProcedure procedure) =>
        new(RpcProgram.Remote, RpcProgram.Version, (int)procedure, RpcMessageType.Message, 0, RpcMessageStatus.Ok);

    private static void WriteLifecycle(XdrWriter w, DomainLifecycleEvent e)
    {
        RemoteWire.WriteDomain(w, e.Domain);
        w.WriteInt32(e.Event);
        w.WriteInt32(e.Detail);
    }
}
