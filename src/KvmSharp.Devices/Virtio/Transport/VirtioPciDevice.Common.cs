using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>The common configuration structure (virtio 1.2 §4.1.4.3) and the status state machine (§3.1.1).</summary>
public sealed partial class VirtioPciDevice
{
    // vCPU threads reach these through BAR accesses; one lock serializes them (and device config accesses).
    private readonly Lock _lock = new();
    private readonly ushort[] _queueSizes;
    private readonly ushort[] _queueVectors;
    private readonly ulong[,] _queueAddresses; // [queue, 0 desc | 1 driver | 2 device]
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ulong _driverFeatures;
    // Written by the device's thread too (NEEDS_RESET, config changes), so without the lock: Interlocked.
    private int _status;
    private int _configGeneration;
    private ushort _configVector;
    private ushort _queueSelect;
    private bool _active;

    /// <summary>Everything the transport offers: the device's bits and the transport's own.</summary>
    private ulong OfferedFeatures => _device.DeviceFeatures | VirtioFeatures.TransportOffered;

    /// <summary>The current device status byte (for tests and diagnostics).</summary>
    public byte Status => (byte)Volatile.Read(ref _status);

    private void ReadCommon(ulong offset, Span<byte> data)
    {
        if (!CommonConfigFields.TryDecode(offset, data.Length, out var field, out bool upper)) return;
        ulong value;
        lock (_lock)
        {
            int q = _queueSelect;
            bool queueValid = q < _queues.Length;
            value = field switch
            {
                CommonConfigRegister.DeviceFeatureSelect => _deviceFeatureSelect,
                CommonConfigRegister.DeviceFeature => _deviceFeatureSelect switch
                {
                    0 => (uint)OfferedFeatures,
                    1 => (uint)(OfferedFeatures >> 32),
                    _ => 0,
                },
                CommonConfigRegister.DriverFeatureSelect => _driverFeatureSelect,
                CommonConfigRegister.DriverFeature => _driverFeatureSelect switch
                {
                    0 => (uint)_driverFeatures,
                    1 => (uint)(_driverFeatures >> 32),
                    _ => 0,
                },
                CommonConfigRegister.ConfigMsixVector => _configVector,
                CommonConfigRegister.NumQueues => (ulong)_queues.Length,
                CommonConfigRegister.DeviceStatus => (byte)Volatile.Read(ref _status),
                CommonConfigRegister.ConfigGeneration => (byte)Volatile.Read(ref _configGeneration),
                CommonConfigRegister.QueueSelect => _queueSelect,
                // §4.1.4.3: a queue that does not exist reads size 0.
                CommonConfigRegister.QueueSize => queueValid ? _queueSizes[q] : 0UL,
                CommonConfigRegister.QueueMsixVector => queueValid ? _queueVectors[q] : NoVector,
                CommonConfigRegister.QueueEnable => queueValid && _queues[q].IsReady ? 1UL : 0,
                CommonConfigRegister.QueueNotifyOff => queueValid ? (ulong)q : 0,
                CommonConfigRegister.QueueDesc => queueValid ? _queueAddresses[q, 0] : 0,
                CommonConfigRegister.QueueDriver => queueValid ? _queueAddresses[q, 1] : 0,
                CommonConfigRegister.QueueDevice => queueValid ? _queueAddresses[q, 2] : 0,
                _ => 0,
            };
        }
        if (upper) value >>= 32;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        bytes[..data.Length].CopyTo(data);
    }

    private void WriteCommon(ulong offset, ReadOnlySpan<byte> data)
    {
        if (!CommonConfigFields.TryDecode(offset, data.Length, out var field, out bool upper)) return;
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        data.CopyTo(bytes);
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        lock (_lock)
        {
            int q = _queueSelect;
            bool queueValid = q < _queues.Length;
            // §4.1.4.3.2: queue fields may change only while the queue is not enabled and the device not live.
            bool queueWritable = queueValid && !_queues[q].IsReady && !_active;
            switch (field)
            {
                case CommonConfigRegister.DeviceFeatureSelect: _deviceFeatureSelect = (uint)value; break;
                case CommonConfigRegister.DriverFeatureSelect: _driverFeatureSelect = (uint)value; break;
                case CommonConfigRegister.DriverFeature:
                    // Features are fixed once FEATURES_OK is set (§3.1.1 step 5).
                    if ((Volatile.Read(ref _status) & VirtioStatus.FeaturesOk) != 0 || _driverFeatureSelect > 1) break;
                    int shift = 32 * (int)_driverFeatureSelect;
                    _driverFeatures = (_driverFeatures & ~(0xFFFF_FFFFUL << shift)) | ((value & 0xFFFF_FFFF) << shift);
                    break;
                case CommonConfigRegister.ConfigMsixVector: _configVector = CheckVector((ushort)value); break;
                case CommonConfigRegister.DeviceStatus: WriteStatus((byte)value); break;
                case CommonConfigRegister.QueueSelect: _queueSelect = (ushort)value; break;
                case CommonConfigRegister.QueueSize when queueWritable: _queueSizes[q] = (ushort)value; break;
                case CommonConfigRegister.QueueMsixVector when queueValid: Volatile.Write(ref _queueVectors[q], CheckVector((ushort)value)); break;
                case CommonConfigRegister.QueueEnable when queueWritable && value == 1: EnableQueue(q); break;
                case CommonConfigRegister.QueueDesc when queueWritable: SetAddress(q, 0, value, data.Length, upper); break;
                case CommonConfigRegister.QueueDriver when queueWritable: SetAddress(q, 1, value, data.Length, upper); break;
                case CommonConfigRegister.QueueDevice when queueWritable: SetAddress(q, 2, value, data.Length, upper); break;
            }
        }
    }

    /// <summary>§4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR, which tells the driver.</summary>
    private ushort CheckVector(ushort vector) => vector < _msix.Vectors ? vector : NoVector;

    private void SetAddress(int queue, int which, ulong value, int length, bool upper)
    {
        ulong old = _queueAddresses[queue, which];
        _queueAddresses[queue, which] = length == 8 ? value
            : upper ? (old & 0xFFFF_FFFF) | (value << 32)
            : (old & 0xFFFF_FFFF_0000_0000) | value;
    }

    private void EnableQueue(int q)
    {
        try
        {
            _queues[q].Enable(_queueSizes[q], new GuestAddress(_queueAddresses[q, 0]), new GuestAddress(_queueAddresses[q, 1]),
                              new GuestAddress(_queueAddresses[q, 2]), VirtioFeatures.Has(_driverFeatures, VirtioFeatures.EventIndex));
        }
        catch (VirtQueueException e)
        {
            _notice($"kvmsharp: {_name}: queue {q} cannot be enabled: {e.Message}");
            Interlocked.Or(ref _status, VirtioStatus.NeedsReset);
        }
    }

    /// <summary>
    /// The driver's status write (§3.1.1). 0 resets. FEATURES_OK stays set only for a feature set the
    /// device offered that includes VERSION_1 (§3.1.1 step 6: the driver re-reads it to learn that).
    /// DRIVER_OK after FEATURES_OK starts the device. NEEDS_RESET is the device's to set and stays.
    /// </summary>
    private void WriteStatus(byte value)
    {
        if (value == 0)
        {
            ResetDevice();
            return;
        }
        int current = Volatile.Read(ref _status);
        int next = value & ~VirtioStatus.NeedsReset;
        if ((next & VirtioStatus.FeaturesOk) != 0 && (current & VirtioStatus.FeaturesOk) == 0 && !FeaturesAcceptable())
            next &= ~VirtioStatus.FeaturesOk;
        // NEEDS_RESET belongs to the device, whose thread may set it at any moment: keep it as it is.
        int seen;
        do seen = Volatile.Read(ref _status);
        while (Interlocked.CompareExchange(ref _status, next | (seen & VirtioStatus.NeedsReset), seen) != seen);
        next |= seen & VirtioStatus.NeedsReset;
        if ((next & (VirtioStatus.DriverOk | VirtioStatus.FeaturesOk)) == (VirtioStatus.DriverOk | VirtioStatus.FeaturesOk)
            && (next & (VirtioStatus.NeedsReset | VirtioStatus.Failed)) == 0 && !_active)
        {
            _active = true;
            _device.Activate(new VirtioActivation(_memory, _driverFeatures, _queues, _notifiers, this));
            // Notifications that came before DRIVER_OK may have been drained by nobody: look at every queue once.
            foreach (var n in _notifiers) n.Signal();
        }
    }

    private bool FeaturesAcceptable() => FeaturesAcceptableFor(_driverFeatures);

    /// <summary>Device reset (§2.4): the device stops first, then every register returns to its initial value.</summary>
    private void ResetDevice()
    {
        if (_active) _device.Reset();
        _active = false;
        foreach (var q in _queues) q.Reset();
        foreach (var n in _notifiers) n.Drain();
        ResetRegisters();
        lock (_isrLock)
        {
            _isr = 0;
            _intx.SetLevel(false);
        }
        Interlocked.Exchange(ref _needsResetReported, 0);
    }

    private void ResetRegisters()
    {
        _deviceFeatureSelect = _driverFeatureSelect = 0;
        _driverFeatures = 0;
        Volatile.Write(ref _status, 0);
        _configVector = NoVector;
        _queueSelect = 0;
        for (int q = 0; q < _queues.Length; q++)
        {
            _queueSizes[q] = _queues[q].MaxQueueSize;
            Volatile.Write(ref _queueVectors[q], NoVector);
            _queueAddresses[q, 0] = _queueAddresses[q, 1] = _queueAddresses[q, 2] = 0;
        }
    }
}
