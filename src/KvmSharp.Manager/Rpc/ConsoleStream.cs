using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// A console opened by DOMAIN_OPEN_CONSOLE (201), as a libvirt stream: both ways STREAM packets with the call's
/// procedure and serial, status CONTINUE and raw bytes (libvirt-protocol.md §3 "Streams"). Output the driver
/// produces before the call's reply is sent waits until <see cref="Activate"/>, so the reply comes first.
/// End of the console (the domain stopped) is an empty CONTINUE, never an unsolicited STREAM/OK, which makes the
/// 9.0 client drop the connection ("Got unexpected async stream finish confirmation"); a failure is STREAM/ERROR.
/// </summary>
internal sealed class ConsoleStream(RemoteSession session, RpcHeader call) : IConsoleSink, IRemoteStream
{
    /// <summary>Output kept while the reply is not out yet; more is dropped (a console is lossy anyway).</summary>
    private const int MaxPendingBytes = 1024 * 1024;

    /// <summary>Bytes per STREAM packet, well under the client's packet limit.</summary>
    private const int ChunkBytes = 64 * 1024;

    private readonly Lock _gate = new();
    private readonly List<byte[]> _pending = [];
    private int _pendingBytes;
    private bool _active;
    private bool _ended;          // EOF or error sent (or to be sent on activation): no more output
    private string? _endError;
    private bool _endRecorded;
    private bool _finished;       // the client finished or aborted, or the connection went
    private IConsoleSession? _console;

    public uint Serial => call.Serial;

    public int Procedure => call.Procedure;

    public void Attach(IConsoleSession console)
    {
        lock (_gate) _console = console;
    }

    /// <summary>The call's reply is queued: what waited goes out now.</summary>
    public void Activate()
    {
        lock (_gate)
        {
            _active = true;
            foreach (var bytes in _pending) SendData(bytes);
            _pending.Clear();
            if (_endRecorded) SendEnd(_endError);
        }
    }

    public void Output(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;   // an empty CONTINUE would mean end of file
        lock (_gate)
        {
            if (_ended || _finished) return;
            if (_active)
            {
                SendData(bytes);
            }
            else if (_pendingBytes + bytes.Length <= MaxPendingBytes)
            {
                _pending.Add(bytes.ToArray());
                _pendingBytes += bytes.Length;
            }
        }
    }

    public void Closed(string? error)
    {
        lock (_gate)
        {
            if (_ended || _finished) return;
            _ended = true;
            if (_active) SendEnd(error);
            else { _endRecorded = true; _endError = error; }
        }
    }

    /// <summary>A STREAM packet from the client for this stream.</summary>
    public void Receive(RpcMessageStatus status, ReadOnlySpan<byte> payload)
    {
        switch (status)
        {
            case RpcMessageStatus.Continue:
                IConsoleSession? console;
                lock (_gate) console = _finished || _ended ? null : _console;
                if (console is null || payload.IsEmpty) return;
                try
                {
                    console.Input(payload);
                }
                catch (Exception e)
                {
                    session.Logger.LogWarning("{Connection}: console input failed: {Reason}", session.Name, e.Message);
                    Closed(e.Message);
                }
                break;
            case RpcMessageStatus.Ok:
                // virStreamFinish: confirm with STREAM/OK, the one time the server sends it.
                Finish();
                session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Ok)));
                break;
            default:
                // virStreamAbort: the 9.0 client waits for an answer to its STREAM/ERROR (measured: without one,
                // virStreamAbort blocks for ever; answered with an error, it fails with that error). STREAM/OK
                // confirms it as it confirms a finish.
                Finish();
                session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Ok)));
                break;
        }
    }

    /// <summary>The connection is going: detach without sending anything.</summary>
    public void Abandon() => Finish();

    private void Finish()
    {
        IConsoleSession? console;
        lock (_gate)
        {
            _finished = true;
            console = _console;
            _console = null;
        }
        session.RemoveStream(call.Serial, this);
        try
        {
            console?.Dispose();
        }
        catch (Exception e)
        {
            session.Logger.LogWarning("{Connection}: closing a console failed: {Reason}", session.Name, e.Message);
        }
    }

    private void SendData(ReadOnlySpan<byte> bytes)
    {
        var header = call.Answer(RpcMessageType.Stream, RpcMessageStatus.Continue);
        for (int offset = 0; offset < bytes.Length; offset += ChunkBytes)
            session.Send(RpcPacket.Build(header, bytes.Slice(offset, Math.Min(ChunkBytes, bytes.Length - offset))));
    }

    private void SendEnd(string? error)
    {
        if (error is null)
        {
            session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Continue), ReadOnlySpan<byte>.Empty));
            return;
        }
        var remoteError = new RemoteError((int)ManagerError.OperationFailed, RemoteError.FromDomain, error);
        session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Error), remoteError.Encode));
    }
}
