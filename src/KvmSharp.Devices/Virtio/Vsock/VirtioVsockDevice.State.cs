using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>Saving, restoring and pausing the vsock device (<see cref="VirtioVsockState"/>).</summary>
public sealed partial class VirtioVsockDevice : IStateful<VirtioVsockState>, IPausable
{
    private readonly Lock _lifecycle = new();
    private bool _paused;
    private bool _restored;

    public VirtioVsockState SaveState() => new() { GuestCid = GuestCid };

    /// <summary>
    /// Checks the CID is this device's (the guest's sockets are bound to it), and arranges for the next activation
    /// (the transport's restore) to send the guest a TRANSPORT_RESET event: its connections did not survive.
    /// </summary>
    public void RestoreState(VirtioVsockState state)
    {
        StateCheck.NotNull(state, "vsock");
        StateCheck.That(state.GuestCid == GuestCid, "vsock.GuestCid", $"the state's guest CID is {state.GuestCid}, this device's {GuestCid}");
        lock (_lifecycle) _restored = true;
    }

    /// <summary>
    /// Parks the device thread after the packet in hand and gives back an rx buffer it took but has not filled. Host
    /// sockets keep what arrives (and new clients wait in the listen backlog) until <see cref="Resume"/>.
    /// </summary>
    public void Pause()
    {
        lock (_lifecycle)
        {
            _paused = true;
            if (_loop is not { } loop) return;
            loop.Pause();
            _muxer?.GiveBackRxBuffer();
        }
    }

    public void Resume()
    {
        lock (_lifecycle)
        {
            _paused = false;
            if (_loop is not { } loop || _muxer is not { } muxer) return;
            loop.Resume();
            loop.Post(() => muxer.Serve(muxer.ProcessAll));
        }
    }
}
