using System.Buffers.Binary;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Native.Libc;
using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Console;

/// <summary>
/// virtio-console with one port and no MULTIPORT (virtio 1.2 §5.3): receiveq 0 carries host input to the
/// guest, transmitq 1 guest output to the host. Linux shows it as /dev/hvc0.
/// <para>
/// Host side: guest output goes to an <see cref="ISerialOutput"/> (the same console backends COM1 uses);
/// host input arrives through <see cref="EnqueueInput"/> from the backend's pump thread and waits in a
/// bounded buffer until the driver posts receive buffers. When the buffer is full EnqueueInput takes less,
/// and the pump offers the rest again later, as with the UART: nothing is dropped.
/// </para>
/// VIRTIO_CONSOLE_F_EMERG_WRITE is offered: a driver write to emerg_wr sends one byte straight to the host
/// (§5.3.6.1), usable before the queues are set up.
/// </summary>
public sealed class VirtioConsoleDevice : QueueServingDevice, IConsoleInput, IStateful<VirtioConsoleState>
{
    /// <summary>VIRTIO_CONSOLE_F_EMERG_WRITE (bit 2).</summary>
    public const ulong FeatureEmergencyWrite = 1UL << 2;

    public const int ReceiveQueue = 0;
    public const int TransmitQueue = 1;

    /// <summary>Host input held while the guest has no receive buffers posted.</summary>
    public const int HostInputBufferSize = 64 * 1024;

    /// <summary>Most bytes sent to the host from one transmit chain; the rest is dropped and counted.</summary>
    public const int MaxTransmitPerRequest = 1024 * 1024;

    private const ushort QueueSize = 128;
    private const int ConfigLength = 12;        // le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr (§5.3.4)
    private const int EmergencyWriteOffset = 8;
    private const int CopySlice = 64 * 1024;

    private readonly ISerialOutput _output;
    private readonly Lock _outputLock = new();
    private readonly Lock _inputLock = new();
    private readonly ByteRing _input = new(HostInputBufferSize);
    private readonly EventNotifier _inputReady = new();
    private long _droppedOutput;
    private bool _closed;
    private int _saidDropped;

    /// <param name="output">Where guest output goes (a console backend); called on the device thread, and on a vCPU thread for emergency writes.</param>
    public VirtioConsoleDevice(ISerialOutput output, Action<string> notice) : base("virtio-console", notice)
    {
        _output = output;
    }

    public override VirtioDeviceType DeviceType => VirtioDeviceType.Console;
    public override ulong DeviceFeatures => FeatureEmergencyWrite;
    public override IReadOnlyList<ushort> QueueSizes { get; } = [QueueSize, QueueSize];
    public override int ConfigSize => ConfigLength;

    /// <summary>Guest output bytes dropped because a chain exceeded <see cref="MaxTransmitPerRequest"/>.</summary>
    public long DroppedOutputBytes => Interlocked.Read(ref _droppedOutput);

    /// <summary>Host input waiting for receive buffers.</summary>
    public int PendingInput { get { lock (_inputLock) return _input.Count; } }

    /// <summary>Host side (the console's pump thread): queues input for the guest; returns how many bytes fit.</summary>
    public int EnqueueInput(ReadOnlySpan<byte> bytes)
    {
        // Signal under the lock: after ReleaseResources the eventfd's number may belong to another file.
        lock (_inputLock)
        {
            if (_closed) return bytes.Length;   // the machine is going away: nothing reads input any more
            int taken = _input.Enqueue(bytes);
            if (taken > 0) _inputReady.Signal();
            return taken;
        }
    }

    /// <summary>Host input still waiting for receive buffers (call while paused: the pump may add more, which a later save would hold).</summary>
    public VirtioConsoleState SaveState()
    {
        lock (_inputLock) return new VirtioConsoleState { PendingInput = _input.ToArray() };
    }

    /// <summary>Loads the pending input (at most <see cref="HostInputBufferSize"/> bytes); it goes to the guest once the device runs.</summary>
    public void RestoreState(VirtioConsoleState state)
    {
        StateCheck.NotNull(state, "console");
        var input = StateCheck.LengthAtMost(state.PendingInput, HostInputBufferSize, "console.PendingInput");
        lock (_inputLock)
        {
            if (_closed) return;
            _input.Load(input);
            if (!_input.IsEmpty) _inputReady.Signal();
        }
    }

    public override void ReadConfig(int offset, Span<byte> data)
    {
        // Without F_SIZE and F_MULTIPORT, cols/rows and max_nr_ports mean nothing to the driver (§5.3.4); report
        // 0 × 0 and one port. emerg_wr reads as 0.
        Span<byte> config = stackalloc byte[ConfigLength];
        config.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(config[4..], 1);
        config.Slice(offset, data.Length).CopyTo(data);
    }

    public override void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // emerg_wr (§5.3.6.1): the low byte of a write covering offset 8 is one character of output.
        if (offset <= EmergencyWriteOffset && offset + data.Length > EmergencyWriteOffset)
            lock (_outputLock) _output.Write(data.Slice(EmergencyWriteOffset - offset, 1));
    }

    protected override void OnActivate(DeviceEventLoop loop) =>
        loop.Watch(_inputReady.Handle, LibcConstants.POLLIN, _ =>
        {
            _inputReady.Drain();
            Serve(ReceiveQueue);
        });

    protected override void ReleaseResources()
    {
        lock (_inputLock)
        {
            _closed = true;
            _inputReady.Dispose();
        }
    }

    protected override void ServeQueue(int queue)
    {
        if (queue == ReceiveQueue) DeliverInput();
        else if (queue == TransmitQueue) Transmit();
    }

    /// <summary>Moves pending host input into the driver's receive buffers, one chain at a time.</summary>
    private void DeliverInput()
    {
        var activation = Activation!;
        var receive = activation.Queues[ReceiveQueue];
        bool any = false;
        lock (_inputLock)
        {
            while (!IsBroken && !PauseRequested && !_input.IsEmpty && receive.TryPopAvailable(out var chain))
            {
                uint written = 0;
                while (chain.TryNext(out var buffer))
                {
                    if (!buffer.IsWritable) continue;   // a receive buffer the device cannot write holds nothing for it
                    int n = (int)Math.Min(buffer.Length, (uint)_input.Count);
                    if (n == 0) continue;
                    var span = activation.Memory.GetSpan(buffer.Address, n);
                    for (int i = 0; i < n; i++) _input.TryDequeue(out span[i]);
                    written += (uint)n;
                }
                receive.AddUsed(chain.Head, written);
                any = true;
            }
        }
        if (any) activation.NotifyUsed(ReceiveQueue);
    }

    /// <summary>Sends each transmit chain's device-readable bytes to the host, in order.</summary>
    private void Transmit()
    {
        var activation = Activation!;
        var transmit = activation.Queues[TransmitQueue];
        bool any = false;
        while (!IsBroken && !PauseRequested && transmit.TryPopAvailable(out var chain))
        {
            long budget = MaxTransmitPerRequest;
            while (chain.TryNext(out var buffer))
            {
                if (buffer.IsWritable) continue;
                long send = Math.Min(buffer.Length, budget);
                if (send < buffer.Length)
                {
                    Interlocked.Add(ref _droppedOutput, buffer.Length - send);
                    NoticeOnce(ref _saidDropped, $"output beyond {MaxTransmitPerRequest} bytes in one request was dropped (said once)");
                }
                for (long done = 0; done < send; done += CopySlice)
                {
                    int n = (int)Math.Min(CopySlice, send - done);
                    var bytes = activation.Memory.GetSpan(buffer.Address + (ulong)done, n);
                    lock (_outputLock) _output.Write(bytes);
                }
                budget -= send;
            }
            transmit.AddUsed(chain.Head, 0);
            any = true;
        }
        if (any) activation.NotifyUsed(TransmitQueue);
    }
}
