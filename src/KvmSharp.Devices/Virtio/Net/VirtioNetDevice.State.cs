using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>Saving, restoring and pausing the NIC (<see cref="VirtioNetState"/>).</summary>
public sealed partial class VirtioNetDevice : IStateful<VirtioNetState>, IPausable
{
    private readonly Lock _lifecycle = new();
    private bool _paused;

    public VirtioNetState SaveState() => new()
    {
        Mac = MacAddress.Format(_config.AsSpan(0, MacAddress.Length)),
        DeviceFeatures = DeviceFeatures,
        RxRateLimiter = RxRateLimiter.SaveState(),
        TxRateLimiter = TxRateLimiter.SaveState(),
    };

    /// <summary>
    /// Checks that this device is the one the state was saved from: same MAC (the guest knows the NIC by it), same
    /// offered features (a tap that lost its offloads could not honour what the driver negotiated). Nothing else
    /// needs loading: the queues are the transport's.
    /// </summary>
    public void RestoreState(VirtioNetState state)
    {
        StateCheck.NotNull(state, "net");
        string mine = MacAddress.Format(_config.AsSpan(0, MacAddress.Length));
        StateCheck.That(string.Equals(state.Mac, mine, StringComparison.OrdinalIgnoreCase), "net.Mac",
            $"the state's NIC has MAC {state.Mac}, this one {mine}");
        StateCheck.That(state.DeviceFeatures == DeviceFeatures, "net.DeviceFeatures",
            $"the state's NIC offered 0x{state.DeviceFeatures:x}, this one offers 0x{DeviceFeatures:x} (has the tap the same offloads?)");
        // Both checked before either is used, so a bad tx state leaves the rx limiter as it was.
        var rx = new RateLimiting.RateLimiter(new RateLimiting.RateLimiterConfig());
        var tx = new RateLimiting.RateLimiter(new RateLimiting.RateLimiterConfig());
        if (state.RxRateLimiter is { } r) rx.RestoreState(r);
        if (state.TxRateLimiter is { } t) tx.RestoreState(t);
        if (state.RxRateLimiter is not null) RxRateLimiter = rx;
        if (state.TxRateLimiter is not null) TxRateLimiter = tx;
    }

    /// <summary>
    /// Parks the device thread (the frame or request in hand is finished first), then drops a frame read from the tap
    /// but not delivered and gives the held receive buffers back (<see cref="NetReceiver.GiveBack"/>). From here no frame
    /// is taken from the tap and no guest memory is written until <see cref="Resume"/>.
    /// </summary>
    public void Pause()
    {
        lock (_lifecycle)
        {
            _paused = true;
            if (_loop is not { } loop) return;
            loop.Pause();
            if (_activation is not { } activation || _broken) return;
            try
            {
                _receiver.GiveBack(activation.Queues[ReceiveQueue], out bool used);
                if (used) activation.NotifyUsed(ReceiveQueue);
            }
            catch (Queue.VirtQueueException e)
            {
                OnFault(e);
            }
        }
    }

    /// <summary>Unparks the thread and looks at both queues and the tap again.</summary>
    public void Resume()
    {
        lock (_lifecycle)
        {
            _paused = false;
            if (_loop is not { } loop) return;
            loop.Resume();
            if (_activation is not null) loop.Post(() => { ServeTransmit(); ServeReceive(); });
        }
    }
}
