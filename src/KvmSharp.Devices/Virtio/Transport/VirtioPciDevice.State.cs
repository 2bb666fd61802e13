using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>Save and restore of the transport (<see cref="VirtioPciState"/>), and pausing it with its device.</summary>
public sealed partial class VirtioPciDevice : IStateful<VirtioPciState>, IPausable
{
    private const byte KnownStatusBits = VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.DriverOk
                                         | VirtioStatus.FeaturesOk | VirtioStatus.NeedsReset | VirtioStatus.Failed;

    /// <summary>Call only while paused (or before the guest runs): the device's thread must not be moving the queues.</summary>
    public VirtioPciState SaveState()
    {
        lock (_lock)
        {
            var queues = new QueueState[_queues.Length];
            for (int q = 0; q < queues.Length; q++)
                queues[q] = _queues[q].SaveState() with
                {
                    Size = _queueSizes[q],
                    DescriptorTable = _queueAddresses[q, 0],
                    DriverRing = _queueAddresses[q, 1],
                    DeviceRing = _queueAddresses[q, 2],
                    MsixVector = Volatile.Read(ref _queueVectors[q]),
                };
            byte isr;
            lock (_isrLock) isr = (byte)_isr;
            return new VirtioPciState
            {
                DeviceStatus = (byte)Volatile.Read(ref _status),
                DeviceFeatureSelect = _deviceFeatureSelect,
                DriverFeatureSelect = _driverFeatureSelect,
                DriverFeatures = _driverFeatures,
                ConfigGeneration = Volatile.Read(ref _configGeneration),
                QueueSelect = _queueSelect,
                ConfigMsixVector = _configVector,
                Isr = isr,
                Active = _active,
                Queues = queues,
                Msix = _msix.SaveState(),
            };
        }
    }

    /// <summary>
    /// Loads <paramref name="state"/> after checking all of it (<see cref="Check"/>). Restore the bus's configuration
    /// spaces first (MSI-X enable lives there) and the device's own state before this. A started device is started
    /// again with its queues where they were: it gets <see cref="IVirtioDevice.Activate"/> as at DRIVER_OK, never a
    /// reset, and looks at every queue once; its doorbells are the ones BAR 0's decoding attached. A device that had
    /// gone NEEDS_RESET stays silent until the driver resets it. INTx follows the restored ISR; a pending MSI-X
    /// message goes out now, or at <see cref="Resume"/> when the transport is paused.
    /// </summary>
    public void RestoreState(VirtioPciState state)
    {
        Check(state);
        lock (_lock)
        {
            ResetDevice();   // whatever ran here is replaced; a freshly built transport has nothing to stop
            _deviceFeatureSelect = state.DeviceFeatureSelect;
            _driverFeatureSelect = state.DriverFeatureSelect;
            _driverFeatures = state.DriverFeatures;
            _configVector = state.ConfigMsixVector;
            _queueSelect = state.QueueSelect;
            Volatile.Write(ref _configGeneration, state.ConfigGeneration);
            for (int q = 0; q < _queues.Length; q++)
            {
                var queue = state.Queues[q];
                _queueSizes[q] = queue.Size;
                _queueAddresses[q, 0] = queue.DescriptorTable;
                _queueAddresses[q, 1] = queue.DriverRing;
                _queueAddresses[q, 2] = queue.DeviceRing;
                Volatile.Write(ref _queueVectors[q], queue.MsixVector);
                _queues[q].RestoreState(queue);
            }
            _msix.RestoreState(state.Msix);
            Volatile.Write(ref _status, state.DeviceStatus);
            bool broken = (state.DeviceStatus & VirtioStatus.NeedsReset) != 0;
            Volatile.Write(ref _needsResetReported, broken ? 1 : 0);
            lock (_isrLock)
            {
                _isr = state.Isr;
                _intx.SetLevel(_isr != 0);
            }
            _active = state.Active;
            if (_active && !broken)
            {
                _device.Activate(new VirtioActivation(_memory, _driverFeatures, _queues, _notifiers, this));
                foreach (var n in _notifiers) n.Signal();
            }
        }
        if (!_paused) _msix.ConfigWritten();
    }

    /// <summary>Refuses, naming the field, a state that this transport and device could not have been in.</summary>
    private void Check(VirtioPciState? state)
    {
        const string F = "virtio-pci";
        StateCheck.NotNull(state, F);
        byte status = state.DeviceStatus;
        StateCheck.That((status & ~KnownStatusBits) == 0, $"{F}.DeviceStatus", $"0x{status:x2} sets bits virtio 1.2 §2.1 does not define");
        bool featuresOk = (status & VirtioStatus.FeaturesOk) != 0;
        bool driverOk = (status & VirtioStatus.DriverOk) != 0;
        StateCheck.That(!featuresOk || FeaturesAcceptableFor(state.DriverFeatures), $"{F}.DriverFeatures",
            $"0x{state.DriverFeatures:x} with FEATURES_OK is not a set this device offers (0x{OfferedFeatures:x}) with VERSION_1");
        StateCheck.That(!state.Active || featuresOk && driverOk, $"{F}.Active", "a started device has FEATURES_OK and DRIVER_OK");
        StateCheck.That(state.Active || !(featuresOk && driverOk) || (status & (VirtioStatus.NeedsReset | VirtioStatus.Failed)) != 0,
            $"{F}.Active", "FEATURES_OK and DRIVER_OK without NEEDS_RESET or FAILED means the device was started");
        StateCheck.That(IsVector(state.ConfigMsixVector), $"{F}.ConfigMsixVector", $"{state.ConfigMsixVector} is not one of the {_msix.Vectors} vectors");
        StateCheck.InRange(state.Isr, 0, IsrQueue | IsrConfig, $"{F}.Isr");
        var queues = StateCheck.Length(state.Queues, _queues.Length, $"{F}.Queues");
        bool eventIdx = VirtioFeatures.Has(state.DriverFeatures, VirtioFeatures.EventIndex);
        for (int q = 0; q < queues.Length; q++)
        {
            string field = $"{F}.Queues[{q}]";
            _queues[q].Check(queues[q], field);
            StateCheck.That(!queues[q].Ready || queues[q].EventIdx == eventIdx, $"{field}.EventIdx", "differs from the negotiated VIRTIO_F_EVENT_IDX");
            StateCheck.That(IsVector(queues[q].MsixVector), $"{field}.MsixVector", $"{queues[q].MsixVector} is not one of the {_msix.Vectors} vectors");
        }
        _msix.Check(state.Msix, $"{F}.Msix");
    }

    private bool IsVector(ushort vector) => vector == NoVector || vector < _msix.Vectors;

    private bool FeaturesAcceptableFor(ulong features) =>
        (features & ~OfferedFeatures) == 0 && VirtioFeatures.Has(features, VirtioFeatures.Version1);

    /// <summary>
    /// Pauses the device (<see cref="IPausable"/> devices: their thread parks once in-flight work is done) and holds
    /// interrupts: a queue or configuration interrupt raised from here on waits (MSI-X pending bit, ISR bit with
    /// INTx low) until <see cref="Resume"/>. A device that is not started yet stays paused when the driver starts it.
    /// </summary>
    public void Pause()
    {
        lock (_isrLock) _paused = true;
        _msix.HoldMessages();
        (_device as IPausable)?.Pause();
    }

    public void Resume()
    {
        lock (_isrLock)
        {
            _paused = false;
            if (_isr != 0) _intx.SetLevel(true);
        }
        _msix.ReleaseMessages();
        (_device as IPausable)?.Resume();
    }
}
