using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>
/// The modern virtio-over-PCI transport (virtio 1.2 §4.1): one PCI function that carries one
/// <see cref="IVirtioDevice"/>. It owns what every device type shares: the vendor capabilities, device
/// status and feature negotiation, queue setup, queue notifications, the ISR and interrupts (MSI-X, with
/// INTx and ISR as the fallback when the driver does not enable MSI-X). BAR layout: <see cref="VirtioPciLayout"/>.
/// <para>
/// Queue notifications signal the queue's <see cref="EventNotifier"/>; the device's own thread waits on
/// it. On KVM the platform can hand the same notifiers to the kernel as ioeventfds
/// (<see cref="NotifierAddress"/>), so a notification then never leaves the kernel to a vCPU thread.
/// </para>
/// The guest is hostile: accesses of the wrong size or alignment read as zero and write nothing, queue
/// configurations are checked when enabled, and a device that finds the driver's queues unusable is
/// marked DEVICE_NEEDS_RESET (§2.1.2) instead of failing the VM.
/// </summary>
public sealed partial class VirtioPciDevice : IPciDevice, IPciBarListener, IVirtioInterrupts, IDisposable
{
    /// <summary>VIRTIO_MSI_NO_VECTOR (§4.1.4.3): no vector mapped.</summary>
    public const ushort NoVector = 0xFFFF;

    private const byte IsrQueue = 1, IsrConfig = 2;

    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly MsixCapability _msix;
    private readonly PciIntxPin _intx;
    private readonly Action<string> _notice;
    private readonly string _name;
    private readonly VirtQueue[] _queues;
    private readonly EventNotifier[] _notifiers;
    private readonly Lock _isrLock = new();
    private int _isr;
    private int _needsResetReported;
    private IDoorbellRouter? _doorbells;
    private ulong? _doorbellBase;
    private volatile bool _paused;

    /// <summary>The device behind this transport.</summary>
    public IVirtioDevice Device => _device;

    /// <param name="name">How notices name the device, e.g. "virtio-blk 00:02.0".</param>
    public VirtioPciDevice(IVirtioDevice device, GuestMemory memory, IMsiSink msi, IInterruptLine intx, string name, Action<string> notice)
    {
        _device = device;
        _memory = memory;
        _name = name;
        _notice = notice;
        int queueCount = device.QueueSizes.Count;
        if (queueCount is < 1 or > VirtioPciLayout.MaxQueues)
            throw new ArgumentException($"{name}: a virtio device needs 1-{VirtioPciLayout.MaxQueues} queues, not {queueCount}");
        if (device.ConfigSize is < 0 or > (int)VirtioPciLayout.DeviceLength)
            throw new ArgumentException($"{name}: device configuration of {device.ConfigSize} bytes does not fit its page");

        Config = new PciConfigSpace(VirtioPciLayout.VendorId, (ushort)(VirtioPciLayout.DeviceIdBase + (ushort)device.DeviceType),
                                    VirtioPciLayout.ClassCode(device.DeviceType));
        Config.Revision = 1; // §4.1.2.1: modern-only devices have revision ID 1 or higher
        Config.SetSubsystem(VirtioPciLayout.VendorId, 0x1100);
        VirtioPciLayout.Declare(Config, device.ConfigSize);
        _msix = new MsixCapability(Config, msi, queueCount + 1, VirtioPciLayout.Bar, VirtioPciLayout.MsixTableOffset,
                                   VirtioPciLayout.Bar, VirtioPciLayout.MsixPbaOffset);
        _intx = new PciIntxPin(Config, intx);

        _queues = new VirtQueue[queueCount];
        _notifiers = new EventNotifier[queueCount];
        _queueSizes = new ushort[queueCount];
        _queueVectors = new ushort[queueCount];
        _queueAddresses = new ulong[queueCount, 3];
        for (int q = 0; q < queueCount; q++)
        {
            _queues[q] = new VirtQueue(memory, device.QueueSizes[q]);
            _notifiers[q] = new EventNotifier();
        }
        ResetRegisters();
    }

    public PciConfigSpace Config { get; }

    /// <summary>Queue <paramref name="queue"/>'s doorbell: its offset in BAR 0 and the notifier a write there signals.</summary>
    public (ulong BarOffset, EventNotifier Notifier) NotifierAddress(int queue) =>
        (VirtioPciLayout.NotifyOffset + (ulong)queue * VirtioPciLayout.NotifyOffMultiplier, _notifiers[queue]);

    /// <summary>
    /// Hands the queues' doorbells to <paramref name="router"/> whenever BAR 0 is decoded (set before the
    /// guest runs). §4.1.5.2: Linux writes the queue index as a 16-bit value at the queue's own address.
    /// </summary>
    public void UseDoorbellRouter(IDoorbellRouter router) => _doorbells = router;

    public void BarMoved(int bar, ulong? baseAddress)
    {
        if (bar != VirtioPciLayout.Bar || _doorbells is not { } router) return;
        if (_doorbellBase is { } old)
            for (int q = 0; q < _queues.Length; q++)
                router.Detach(old + NotifierAddress(q).BarOffset, DoorbellWidth, _notifiers[q]);
        _doorbellBase = baseAddress;
        if (baseAddress is { } start)
            for (int q = 0; q < _queues.Length; q++)
                router.TryAttach(start + NotifierAddress(q).BarOffset, DoorbellWidth, _notifiers[q]);
    }

    private const int DoorbellWidth = 2;

    public void ConfigWritten(int offset, int length)
    {
        _msix.ConfigWritten();
        _intx.CommandChanged();
    }

    public void BarRead(int bar, ulong offset, Span<byte> data)
    {
        data.Clear();
        if (bar != VirtioPciLayout.Bar || _msix.TryRead(bar, offset, data)) return;
        if (offset < VirtioPciLayout.CommonOffset + VirtioPciLayout.CommonLength)
            ReadCommon(offset, data);
        else if (offset == VirtioPciLayout.IsrOffset && data.Length == 1)
            data[0] = TakeIsr();
        else if (offset >= VirtioPciLayout.DeviceOffset && offset < VirtioPciLayout.DeviceOffset + VirtioPciLayout.DeviceLength)
            AccessDeviceConfig(offset - VirtioPciLayout.DeviceOffset, data, write: false);
    }

    public void BarWrite(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar != VirtioPciLayout.Bar || _msix.TryWrite(bar, offset, data)) return;
        if (offset < VirtioPciLayout.CommonOffset + VirtioPciLayout.CommonLength)
            WriteCommon(offset, data);
        else if (offset >= VirtioPciLayout.DeviceOffset && offset < VirtioPciLayout.DeviceOffset + VirtioPciLayout.DeviceLength)
        {
            Span<byte> copy = stackalloc byte[8];
            data.CopyTo(copy);
            AccessDeviceConfig(offset - VirtioPciLayout.DeviceOffset, copy[..data.Length], write: true);
        }
        else if (offset >= VirtioPciLayout.NotifyOffset && offset < VirtioPciLayout.NotifyOffset + VirtioPciLayout.NotifyLength)
        {
            // §4.1.5.2: the driver writes the queue index (or notification data) at the queue's own address;
            // the address alone says which queue, so the value is not needed.
            ulong queue = (offset - VirtioPciLayout.NotifyOffset) / VirtioPciLayout.NotifyOffMultiplier;
            if (queue < (ulong)_notifiers.Length) _notifiers[queue].Signal();
        }
    }

    // ---- IVirtioInterrupts: called from the device's thread ----

    public void SignalQueue(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length) return;
        Signal(Volatile.Read(ref _queueVectors[queue]), IsrQueue);
    }

    public void SignalConfigChange()
    {
        Interlocked.Increment(ref _configGeneration);
        Signal(Volatile.Read(ref _configVector), IsrConfig);
    }

    /// <remarks>
    /// Takes no transport lock: a reset holds it while it waits for the device's thread to stop, and that
    /// thread may be here.
    /// </remarks>
    public void MarkNeedsReset(string reason)
    {
        // Only a running device can need a reset; a reset that raced this report already cleared the state.
        if ((Volatile.Read(ref _status) & VirtioStatus.DriverOk) == 0) return;
        Interlocked.Or(ref _status, VirtioStatus.NeedsReset);
        if (Interlocked.Exchange(ref _needsResetReported, 1) == 0)
            _notice($"kvmsharp: {_name}: the guest driver broke the device ({reason}); it needs a reset");
        SignalConfigChange();
    }

    /// <summary>
    /// An interrupt for <paramref name="vector"/> when the driver enabled MSI-X (no vector mapped: none,
    /// §4.1.5.1.2); otherwise INTx with the ISR bit telling why (§4.1.4.5).
    /// </summary>
    private void Signal(ushort vector, byte isrBit)
    {
        if (_msix.Enabled)
        {
            if (vector != NoVector) _msix.Signal(vector);
            return;
        }
        lock (_isrLock)
        {
            _isr |= isrBit;
            if (!_paused) _intx.SetLevel(true);   // paused: raised at Resume
        }
    }

    /// <summary>§4.1.4.5: reading the ISR returns it, clears it and de-asserts INTx.</summary>
    private byte TakeIsr()
    {
        lock (_isrLock)
        {
            byte isr = (byte)_isr;
            _isr = 0;
            _intx.SetLevel(false);
            return isr;
        }
    }

    private void AccessDeviceConfig(ulong offset, Span<byte> data, bool write)
    {
        int size = _device.ConfigSize;
        if (offset >= (ulong)size || (ulong)data.Length > (ulong)size - offset) return; // past the device's fields: reads 0
        lock (_lock)
        {
            if (write) _device.WriteConfig((int)offset, data);
            else _device.ReadConfig((int)offset, data);
        }
    }

    public void Dispose()
    {
        lock (_lock) ResetDevice();
        _device.Dispose();
        foreach (var n in _notifiers) n.Dispose();
    }
}
