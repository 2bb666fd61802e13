namespace KvmSharp.Manager.Rpc;

/// <summary>
/// The one way out of a connection: replies, events and stream data are queued under one lock, in order, and a
/// thread of the connection's own writes them. Whoever sends (the reader, the driver's event thread, a console) never
/// blocks on a client that does not read; a client that lets more than <see cref="MaxQueuedBytes"/> pile up is
/// disconnected instead of holding memory.
/// </summary>
internal sealed class PacketSender : IDisposable
{
    public const long MaxQueuedBytes = 64L * 1024 * 1024;

    private readonly Stream _stream;
    private readonly Action<string> _fail;
    private readonly Queue<byte[]> _queue = new();
    private readonly object _gate = new();
    private readonly Thread _thread;
    private long _queuedBytes;
    private bool _stopped;

    /// <param name="fail">Called once, with why, when the connection cannot be written any more.</param>
    public PacketSender(Stream stream, string name, Action<string> fail)
    {
        _stream = stream;
        _fail = fail;
        _thread = new Thread(Run) { IsBackground = true, Name = $"{name} writer" };
        _thread.Start();
    }

    /// <summary>Bytes queued and not yet written.</summary>
    public long QueuedBytes
    {
        get { lock (_gate) return _queuedBytes; }
    }

    /// <summary>Queues a whole packet; false when the connection is gone or its queue is full.</summary>
    public bool Send(byte[] packet)
    {
        lock (_gate)
        {
            if (_stopped) return false;
            if (_queuedBytes + packet.Length > MaxQueuedBytes)
            {
                _stopped = true;
                Monitor.PulseAll(_gate);
            }
            else
            {
                _queue.Enqueue(packet);
                _queuedBytes += packet.Length;
                Monitor.PulseAll(_gate);
                return true;
            }
        }
        _fail($"the client has not read {MaxQueuedBytes} bytes queued for it");
        return false;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _queue.Clear();
            Monitor.PulseAll(_gate);
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
    }

    private void Run()
    {
        while (true)
        {
            byte[] packet;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_stopped) Monitor.Wait(_gate);
                if (_stopped) return;
                packet = _queue.Dequeue();
                _queuedBytes -= packet.Length;
            }
            try
            {
                _stream.Write(packet);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                lock (_gate) _stopped = true;
                _fail($"cannot write to the client: {e.Message}");
                return;
            }
        }
    }
}
