using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Storage;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// vol-upload (STORAGE_VOL_UPLOAD 208, the client writes) and vol-download (209, the server writes) as libvirt streams:
/// STREAM packets with the call's procedure and serial carrying the volume's raw bytes (libvirt-protocol.md §3 "Streams").
/// The end of a download is an empty CONTINUE; the client then finishes with STREAM/OK, which we confirm with STREAM/OK
/// (an upload's bytes are synced first). A failure is STREAM/ERROR; the stream stays registered so that the client's
/// abort (STREAM/ERROR) or finish is still answered, as the console's is.
/// </summary>
internal sealed class VolumeStream(RemoteSession session, RpcHeader call, VolumeTransfer transfer, bool upload) : IRemoteStream
{
    /// <summary>Bytes per STREAM packet: libvirt's own chunk (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX is 256 KiB less a header).</summary>
    private const int ChunkBytes = 256 * 1024;

    /// <summary>A download waits while more than this is queued for the client, so a slow client never fills the daemon's memory.</summary>
    private const long MaxQueuedBytes = 4 * 1024 * 1024;

    private readonly Lock _gate = new();
    private bool _failed;
    private bool _finished;

    public int Procedure => call.Procedure;

    /// <summary>The call's reply is queued: a download starts sending.</summary>
    public void Activate()
    {
        if (!upload) new Thread(SendAll) { IsBackground = true, Name = $"{session.Name} vol-download" }.Start();
    }

    public void Receive(RpcMessageStatus status, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            if (_finished) return;
            if (status == RpcMessageStatus.Continue)
            {
                if (!upload || _failed || payload.IsEmpty) return;
                try
                {
                    transfer.Write(payload);
                }
                catch (Exception e) when (e is ManagerException or IOException)
                {
                    Fail(e.Message);
                }
                return;
            }
            // STREAM/OK: the client finished (virStreamFinish); STREAM/ERROR: it aborted. Either way it waits for our STREAM/OK.
            string? error = null;
            if (status == RpcMessageStatus.Ok && upload && !_failed)
            {
                try { transfer.Complete(); }
                catch (IOException e) { error = $"cannot sync the volume: {e.Message}"; }
            }
            End();
            if (error is null) session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Ok)));
            else SendError(error);
        }
    }

    public void Abandon()
    {
        lock (_gate)
        {
            if (!_finished) End();
        }
    }

    private void End()
    {
        _finished = true;
        session.RemoveStream(call.Serial, this);
        transfer.Dispose();
    }

    private void Fail(string message)
    {
        _failed = true;
        session.Logger.LogWarning("{Connection}: volume stream failed: {Reason}", session.Name, message);
        SendError(message);
    }

    private void SendError(string message)
    {
        var error = new RemoteError((int)ManagerError.OperationFailed, RemoteError.FromStorage, message);
        session.Send(RpcPacket.Build(call.Answer(RpcMessageType.Stream, RpcMessageStatus.Error), error.Encode));
    }

    /// <summary>A download: chunks while the client keeps up, then the empty CONTINUE that means end of file.</summary>
    private void SendAll()
    {
        var buffer = new byte[ChunkBytes];
        var header = call.Answer(RpcMessageType.Stream, RpcMessageStatus.Continue);
        while (true)
        {
            while (session.QueuedBytes > MaxQueuedBytes)
            {
                lock (_gate) if (_finished) return;
                Thread.Sleep(1);
            }
            lock (_gate)
            {
                if (_finished || _failed) return;
                int n;
                try
                {
                    n = transfer.Read(buffer);
                }
                catch (IOException e)
                {
                    Fail($"cannot read the volume: {e.Message}");
                    return;
                }
                if (!session.Send(RpcPacket.Build(header, buffer.AsSpan(0, n)))) return;
                if (n == 0) return;   // the empty CONTINUE was the end of file
            }
        }
    }
}
