using System.Net.Sockets;
using System.Runtime.InteropServices;
using KvmSharp.Native.Net;

namespace KvmSharp.Devices.Virtio.Net.Host;

/// <summary>
/// A virtio-net backend on passt's Unix stream socket (<see cref="StreamFraming"/>): user networking without
/// privileges. passt takes plain Ethernet frames, so the virtio_net_hdr_v1 goes on the way in (all zero: no
/// offloads are offered, §5.1.6) and comes off on the way out.
/// <para>
/// Receiving reads a frame's length, then exactly its bytes, and nothing beyond: what is not read yet stays in
/// the socket, so the socket stays readable exactly while a frame is waiting, as the device's poll expects. A frame
/// that arrives in pieces is kept until it is whole.
/// </para>
/// <para>
/// Sending never blocks the device's loop: frames go into a bounded queue (<see cref="QueueBytes"/>) that a writer
/// thread of ours drains into the socket, whole frames only, in order; passt reading slowly is backpressure
/// that drops frames at a full queue (counted as tx errors, as a full NIC queue would), never a stalled device
/// and never half a frame on the stream. Should the loop block on passt while passt blocks on us, neither
/// would move.
/// </para>
/// <para>
/// passt ending (or the stream breaking, or a length no frame can have) fails the backend for good: the
/// device's receive side is told once, with <see cref="DescribeFailure"/>, and every frame sent after is dropped.
/// </para>
/// </summary>
public sealed class PasstBackend : INetBackend
{
    /// <summary>Bytes of frames (with their length prefixes) waiting for passt: ~30 of the largest frames.</summary>
    public const int QueueBytes = 2 << 20;

    private const int ENOBUFS = 105, EPIPE = 32, EPROTO = 71;

    private readonly Socket _socket;
    private readonly Func<string?> _whyGone;
    private readonly IDisposable? _owner;

    // Receive state: the length prefix so far, then the frame so far.
    private readonly byte[] _prefix = new byte[StreamFraming.LengthPrefix];
    private readonly byte[] _body = new byte[StreamFraming.MaxFrameLength];
    private int _prefixGot;
    private int _bodyLength = -1;
    private int _bodyGot;

    // The send queue: a ring of bytes, guarded by _queueLock.
    private readonly byte[] _queue = new byte[QueueBytes];
    private readonly object _queueLock = new();
    private int _queueStart, _queueCount;
    private readonly Thread _writer;
    private volatile bool _disposed;
    private volatile int _failedErrno;
    private string? _failure;

    /// <param name="socket">Connected to passt's socket; owned from here on.</param>
    /// <param name="whyGone">What became of passt (its exit status and last words), or null while it runs: for the notice.</param>
    /// <param name="owner">Disposed after the socket (the passt process, which then ends).</param>
    public PasstBackend(Socket socket, string name, Func<string?> whyGone, IDisposable? owner = null)
    {
        _socket = socket;
        _whyGone = whyGone;
        _owner = owner;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = $"passt-writer-{name}" };
        _writer.Start();
    }

    public SafeHandle Handle => _socket.SafeHandle;

    /// <summary>passt does its own checksums and segmentation: it takes whole, checksummed frames only.</summary>
    public bool SupportsOffloads => false;

    public void SetOffloads(uint tunFlags) { }

    public int Receive(Span<byte> buffer)
    {
        if (_failedErrno != 0) return -_failedErrno;
        while (true)
        {
            if (_bodyLength < 0)
            {
                int n = StreamIo.Receive(Handle, _prefix.AsSpan(_prefixGot));
                if (n <= 0) return n == 0 ? 0 : Fail(-n, null);
                _prefixGot += n;
                if (_prefixGot < _prefix.Length) continue;
                _bodyLength = StreamFraming.ReadLength(_prefix);
                if (_bodyLength < 0)
                    return Fail(EPROTO, $"passt announced a frame of {System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(_prefix)} bytes, which no Ethernet frame has");
                _bodyGot = 0;
                continue;
            }
            int got = StreamIo.Receive(Handle, _body.AsSpan(_bodyGot, _bodyLength - _bodyGot));
            if (got <= 0) return got == 0 ? 0 : Fail(-got, null);
            _bodyGot += got;
            if (_bodyGot < _bodyLength) continue;

            int length = _bodyLength;
            _bodyLength = -1;
            _prefixGot = 0;
            if (buffer.Length < NetFrame.HeaderLength + length) continue;   // cannot happen with the device's buffer; never overrun one
            buffer[..NetFrame.HeaderLength].Clear();
            _body.AsSpan(0, length).CopyTo(buffer[NetFrame.HeaderLength..]);
            return NetFrame.HeaderLength + length;
        }
    }

    public int Send(ReadOnlySpan<byte> frame)
    {
        if (_failedErrno != 0) return -_failedErrno;
        if (frame.Length < NetFrame.HeaderLength + StreamFraming.MinFrameLength) return -EPROTO;
        var ethernet = frame[NetFrame.HeaderLength..];
        int needed = StreamFraming.LengthPrefix + ethernet.Length;
        Span<byte> prefix = stackalloc byte[StreamFraming.LengthPrefix];
        StreamFraming.WriteLength(prefix, ethernet.Length);
        lock (_queueLock)
        {
            if (QueueBytes - _queueCount < needed) return -ENOBUFS;   // passt is behind: drop, as a full NIC queue does
            Append(prefix);
            Append(ethernet);
            if (_queueCount == needed) Monitor.Pulse(_queueLock);   // was empty: the writer may be waiting
        }
        return 0;
    }

    /// <summary>Why the backend failed, in one line naming passt; <paramref name="why"/> is the device's own reason.</summary>
    public string DescribeFailure(string why)
    {
        string? gone = _whyGone();
        return _failure ?? (gone is not null ? gone : $"the connection to passt broke ({why})");
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        int end = (_queueStart + _queueCount) % QueueBytes;
        int first = Math.Min(data.Length, QueueBytes - end);
        data[..first].CopyTo(_queue.AsSpan(end));
        data[first..].CopyTo(_queue);
        _queueCount += data.Length;
    }

    private int Fail(int errno, string? failure)
    {
        if (_failedErrno == 0)
        {
            _failure ??= failure;
            _failedErrno = errno;
        }
        return -_failedErrno;
    }

    /// <summary>The writer thread: the queue's bytes into the socket, waiting for room when passt is behind.</summary>
    private void WriteLoop()
    {
        while (true)
        {
            int start, count;
            lock (_queueLock)
            {
                while (_queueCount == 0 && !_disposed) Monitor.Wait(_queueLock);
                if (_disposed || _failedErrno != 0) return;
                start = _queueStart;
                count = Math.Min(_queueCount, QueueBytes - _queueStart);
            }
            // Only this thread removes bytes, and Send only appends behind them: this span stays as it is.
            int sent = StreamIo.Send(Handle, _queue.AsSpan(start, count));
            if (sent < 0)
            {
                Fail(sent == -EPIPE ? EPIPE : -sent, null);
                return;
            }
            if (sent == 0)
            {
                StreamIo.WaitWritable(Handle, 200);
                continue;
            }
            lock (_queueLock)
            {
                _queueStart = (_queueStart + sent) % QueueBytes;
                _queueCount -= sent;
            }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        lock (_queueLock)
        {
            _disposed = true;
            Monitor.PulseAll(_queueLock);
        }
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { /* already broken */ }
        _writer.Join();
        _socket.Dispose();
        _owner?.Dispose();
    }
}
