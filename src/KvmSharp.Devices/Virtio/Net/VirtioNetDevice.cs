using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KvmSharp.Devices.Virtio.Net.Host;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>
/// virtio-net (virtio 1.2 §5.1): one receive queue (0) and one transmit queue (1), no control queue, a MAC
/// address and a link that is always up. Frames and their virtio_net_hdr_v1 pass between the queues and an
/// <see cref="INetBackend"/> (a tap) unchanged, so the checksum and TSO offloads are offered exactly when the
/// tap takes them. The device serves its queues on its own <see cref="DeviceEventLoop"/>, which watches both
/// queue notifiers and the backend. Receive and transmit have a rate limiter each (Firecracker's rx_rate_limiter and
/// tx_rate_limiter: ops = frames, bandwidth = frame bytes); a direction out of tokens waits on a loop timer.
/// </summary>
public sealed partial class VirtioNetDevice : IVirtioDevice
{
    public const int ReceiveQueue = 0, TransmitQueue = 1;
    private const ushort QueueSize = 256;
    /// <summary>Config (§5.1.4): mac[6], le16 status, le16 max_virtqueue_pairs.</summary>
    private const int ConfigLength = 10;
    /// <summary>VIRTIO_NET_S_LINK_UP (§5.1.4).</summary>
    private const ushort LinkUp = 1;
    private const int ENOBUFS = 105;

    private readonly INetBackend _backend;
    private readonly string _name;
    private readonly Action<string> _notice;
    private readonly byte[] _config = new byte[ConfigLength];
    private readonly NetReceiver _receiver;
    private readonly NetTransmitter _transmitter;
    private VirtioActivation? _activation;
    private DeviceEventLoop? _loop;
    private DeviceTimer? _rxTimer, _txTimer;
    private bool _pollingBackend;
    private bool _broken;
    private bool _toldSendError;
    private bool _hostFailed;

    /// <param name="name">For the loop thread and notices, e.g. the tap's name.</param>
    public VirtioNetDevice(INetBackend backend, ReadOnlySpan<byte> mac, string name, Action<string> notice)
    {
        if (mac.Length != MacAddress.Length) throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        _backend = backend;
        _name = name;
        _notice = notice;
        mac.CopyTo(_config);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(6), LinkUp);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(8), 1);
        DeviceFeatures = NetFeatures.Mac | NetFeatures.Status | NetFeatures.MergeableRxBuffers
                         | (backend.SupportsOffloads ? NetFeatures.Offloads : 0);
        _receiver = new NetReceiver(Statistics);
        _transmitter = new NetTransmitter(Statistics);
    }

    /// <summary>
    /// A NIC on tap <paramref name="tapName"/> (opened, or created when we may), with <paramref name="mac"/> or,
    /// when null, a stable address made from the tap's name. A <see cref="TapException"/> says in one line why not.
    /// </summary>
    public static VirtioNetDevice OpenTap(string tapName, byte[]? mac, Action<string> notice)
    {
        var tap = TapDevice.Open(tapName);
        return new VirtioNetDevice(new TapBackend(tap), mac ?? MacAddress.FromName(tapName), tapName, notice);
    }

    /// <summary>
    /// A NIC on user networking: a passt of its own (<see cref="PasstProcess"/>) with <paramref name="forwards"/>,
    /// ended with the device. A <see cref="PasstException"/> says in one line why not.
    /// </summary>
    public static VirtioNetDevice OpenUser(IReadOnlyList<PasstPortForward> forwards, byte[] mac, string name, Action<string> notice)
    {
        var (passt, socket) = PasstProcess.Start(forwards);
        return new VirtioNetDevice(new PasstBackend(socket, name, passt.WhyGone, passt), mac, name, notice);
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Net;
    public ulong DeviceFeatures { get; }
    public IReadOnlyList<ushort> QueueSizes { get; } = [QueueSize, QueueSize];
    public int ConfigSize => ConfigLength;
    public NetStatistics Statistics { get; } = new();

    /// <summary>Limits frames from the host to the guest; unlimited unless configured.</summary>
    public RateLimiter RxRateLimiter { get; private set; } = new(new RateLimiterConfig());

    /// <summary>Limits frames from the guest to the host; unlimited unless configured.</summary>
    public RateLimiter TxRateLimiter { get; private set; } = new(new RateLimiterConfig());

    /// <summary>Sets the limiters (before the guest runs); null leaves a direction unlimited.</summary>
    public void LimitRate(RateLimiterConfig? rx, RateLimiterConfig? tx)
    {
        RxRateLimiter = new RateLimiter(rx ?? new RateLimiterConfig());
        TxRateLimiter = new RateLimiter(tx ?? new RateLimiterConfig());
    }

    public void ReadConfig(int offset, Span<byte> data) => _config.AsSpan(offset, data.Length).CopyTo(data);

    /// <summary>Every field is read-only for the driver (§5.1.4: the MAC is written only through the control queue, which we lack).</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

    public void Activate(VirtioActivation activation)
    {
        lock (_lifecycle) ActivateLocked(activation);
    }

    private void ActivateLocked(VirtioActivation activation)
    {
        ResetLocked();
        _activation = activation;
        _broken = _hostFailed = false;
        var loop = new DeviceEventLoop($"virtio-net-{_name}", OnFault);
        _loop = loop;
        if (!TrySetOffloads(NetFeatures.ToTunOffloads(activation.Features))) return;
        loop.Watch(activation.Notifiers[ReceiveQueue].Handle, LibcConstants.POLLIN, _ => OnReceiveNotified());
        loop.Watch(activation.Notifiers[TransmitQueue].Handle, LibcConstants.POLLIN, _ => OnTransmitNotified());
        loop.Watch(_backend.Handle, LibcConstants.POLLIN, OnBackendReady);
        _pollingBackend = true;
        _rxTimer = loop.CreateTimer(ServeReceive);
        _txTimer = loop.CreateTimer(ServeTransmit);
        // The driver may have filled and notified queues before DRIVER_OK: look at both once.
        loop.Post(() => { ServeTransmit(); ServeReceive(); });
        if (_paused) loop.Pause();   // restored or started while the machine is paused: park before the first round
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
        if (_activation is not null) TrySetOffloads(0);
        _activation = null;
        _receiver.Reset();
    }

    public void Dispose()
    {
        Reset();
        _backend.Dispose();
    }

    private bool TrySetOffloads(uint tunFlags)
    {
        try
        {
            _backend.SetOffloads(tunFlags);
            return true;
        }
        catch (NativeException e)
        {
            // Frames with offloads the driver refused would reach it: better a broken device than corrupt frames.
            _activation?.Interrupts.MarkNeedsReset($"virtio-net {_name}: {e.Message}");
            return false;
        }
    }

    private void OnReceiveNotified()
    {
        _activation!.Notifiers[ReceiveQueue].Drain();
        ServeReceive();
    }

    private void OnTransmitNotified()
    {
        _activation!.Notifiers[TransmitQueue].Drain();
        ServeTransmit();
    }

    private void OnBackendReady(short revents)
    {
        Statistics.CountHostWakeup();
        if ((revents & (LibcConstants.POLLERR | LibcConstants.POLLHUP | LibcConstants.POLLNVAL)) != 0)
            StopPollingHost($"poll events 0x{revents:x}");
        else
            ServeReceive();
    }

    private void ServeReceive()
    {
        var activation = _activation!;
        if (_broken || _hostFailed) return;
        var outcome = _receiver.Serve(activation.Queues[ReceiveQueue], activation.Memory, _backend,
            activation.Has(NetFeatures.MergeableRxBuffers), RxRateLimiter, out bool used);
        if (used) activation.NotifyUsed(ReceiveQueue);
        if (outcome == NetReceiver.Outcome.HostFailed)
        {
            StopPollingHost(Marshal.GetPInvokeErrorMessage(_receiver.HostError));
            return;
        }
        // Out of tokens: the frame waits for the timer, and the backend is not polled meanwhile.
        if (outcome == NetReceiver.Outcome.RateLimited) _rxTimer!.Arm(_receiver.WaitNs);
        // Out of rx buffers: stop polling the backend (it stays readable) until the driver notifies rx.
        bool poll = outcome == NetReceiver.Outcome.HostDrained;
        if (poll != _pollingBackend)
        {
            _pollingBackend = poll;
            _loop!.Modify(_backend.Handle, poll ? LibcConstants.POLLIN : (short)0);
        }
    }

    /// <summary>A host side that errors or hangs up stays that way: stop polling it rather than spin.</summary>
    private void StopPollingHost(string why)
    {
        _hostFailed = true;
        if (!_toldSendError)   // one notice for a host side that went away, whichever direction saw it first
            _notice($"kvmsharp: virtio-net {_name}: reading from the host failed ({_backend.DescribeFailure(why)}); no more frames will arrive");
        _toldSendError = true;
        _loop!.Unwatch(_backend.Handle);
    }

    private void ServeTransmit()
    {
        var activation = _activation!;
        if (_broken) return;
        if (_transmitter.Serve(activation.Queues[TransmitQueue], activation.Memory, _backend, TxRateLimiter, out long waitNs))
            activation.NotifyUsed(TransmitQueue);
        if (waitNs > 0) _txTimer!.Arm(waitNs);
        // A full queue (EAGAIN, ENOBUFS) passes by itself and is only counted; anything else is told once.
        if (_transmitter.LastSendError is not (0 or LibcConstants.EAGAIN or ENOBUFS) && !_toldSendError)
        {
            _toldSendError = true;   // once: a tap that is down refuses every frame
            _notice($"kvmsharp: virtio-net {_name}: the host refused a frame ({_backend.DescribeFailure(Marshal.GetPInvokeErrorMessage(_transmitter.LastSendError))}){(_backend is TapBackend ? "; is the tap up?" : "")}");
        }
    }

    /// <summary>A malformed queue (or anything else a handler threw): NEEDS_RESET, and no more serving until reset.</summary>
    private void OnFault(Exception e)
    {
        if (_broken) return;
        _broken = true;
        string reason = e is VirtQueueException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        _activation?.Interrupts.MarkNeedsReset($"virtio-net {_name}: {reason}");
        if (_loop is { IsLoopThread: true } loop) loop.Unwatch(_backend.Handle);
    }
}
