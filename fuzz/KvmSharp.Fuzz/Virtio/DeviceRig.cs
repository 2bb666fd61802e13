using KvmSharp.Devices.Virtio;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;
using KvmSharp.Tests.Devices.Virtio;

namespace KvmSharp.Fuzz.Virtio;

/// <summary>
/// One device on real guest RAM, activated as the transport does at DRIVER_OK, with real eventfds as doorbells.
/// Each input is one round: the chosen queue's table, ring and buffers come from the input, the device is kicked
/// and must answer every chain or mark itself NEEDS_RESET for a guest reason within <see cref="Patience"/>; then it
/// is reset for the next input. A reason or notice the <see cref="IsFinding"/> rule calls ours (an unexpected
/// exception on the device thread) is thrown as a <see cref="FuzzFinding"/>, as is a device that never answers.
/// </summary>
public sealed class DeviceRig : IVirtioInterrupts
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private readonly IVirtioDevice _device;
    private readonly GuestMemory _memory;
    private readonly MockVirtqDriver[] _drivers;
    private readonly EventNotifier[] _notifiers;
    private readonly int[] _queues;
    private readonly Func<string, bool> _isFinding;
    private readonly Func<string, bool> _noticeIsFinding;
    private readonly SemaphoreSlim _events = new(0);
    private readonly Lock _gate = new();
    private readonly List<string> _notices = [];
    private string? _resetReason;

    /// <param name="create">Makes the device, given the notice sink it must report to.</param>
    /// <param name="queues">The queues a round may fill: those the device answers at once (not rx queues that hold buffers).</param>
    /// <param name="isFinding">Which reset reasons are our bugs rather than the guest's.</param>
    /// <param name="noticeIsFinding">Which notices are (default: the same rule as reasons).</param>
    public DeviceRig(Func<Action<string>, IVirtioDevice> create, int[] queues, Func<string, bool> isFinding, Func<string, bool>? noticeIsFinding = null)
    {
        _noticeIsFinding = noticeIsFinding ?? isFinding;
        _device = create(Notice);
        _queues = queues;
        _isFinding = isFinding;
        int count = _device.QueueSizes.Count;
        _memory = GuestMemory.Create(MockVirtqDriver.LayoutSize * (ulong)count);
        _drivers = new MockVirtqDriver[count];
        _notifiers = new EventNotifier[count];
        for (int i = 0; i < count; i++)
        {
            _drivers[i] = new MockVirtqDriver(_memory, Math.Min(_device.QueueSizes[i], (ushort)ChainInput.TableEntries), QueueBase(i));
            _notifiers[i] = new EventNotifier();
        }
    }

    public static ulong QueueBase(int queue) => MockVirtqDriver.LayoutSize * (ulong)queue;

    public IVirtioDevice Device => _device;

    public void Round(ReadOnlySpan<byte> bytes)
    {
        var input = new ChainInput(bytes);
        if (!input.IsComplete) return;   // too short to be a driver's layout: nothing reaches the device
        int queue = _queues[input.QueuePick % _queues.Length];
        lock (_gate) { _notices.Clear(); _resetReason = null; }
        while (_events.CurrentCount > 0) _events.Wait(0);

        for (int i = 0; i < _drivers.Length; i++)
        {
            ulong at = QueueBase(i);
            _drivers[i].Queue.Reset();
            _memory.GetSpan(new GuestAddress(at + MockVirtqDriver.DescAddress), ChainInput.TableBytes).Clear();
            _memory.GetSpan(new GuestAddress(at + MockVirtqDriver.AvailAddress), 0x2_0000).Clear();   // both rings
            _memory.GetSpan(new GuestAddress(at + MockVirtqDriver.BufferBase), ChainInput.MaxData).Clear();
            _drivers[i].SetAvailIdx(0);
            _drivers[i].Enable(input.EventIdx);
        }
        var driver = _drivers[queue];
        _memory.Write(new GuestAddress(driver.DescriptorTable), input.Table);
        _memory.Write(new GuestAddress(QueueBase(queue) + MockVirtqDriver.BufferBase), input.Data);
        for (int c = 0; c < input.Chains; c++) driver.Publish(input.Head(c));

        ulong features = _device.DeviceFeatures & (VirtioFeatures.Version1 | (input.EventIdx ? VirtioFeatures.EventIndex : 0));
        _device.Activate(new VirtioActivation(_memory, features, [.. _drivers.Select(d => d.Queue)], _notifiers, this));
        _notifiers[queue].Signal();
        var deadline = DateTime.UtcNow + Patience;
        while (driver.UsedIdx != (ushort)input.Chains && Volatile.Read(ref _resetReason) is null)
        {
            if (DateTime.UtcNow > deadline)
            {
                _device.Reset();
                throw new FuzzFinding($"hang: queue {queue} answered {driver.UsedIdx} of {input.Chains} chains in {Patience.TotalSeconds} s and did not mark itself broken");
            }
            _events.Wait(1);
        }
        _device.Reset();
        lock (_gate)
        {
            if (_resetReason is { } reason && _isFinding(reason)) throw new FuzzFinding($"device reset for our own fault: {reason}");
            foreach (var notice in _notices)
                if (_noticeIsFinding(notice)) throw new FuzzFinding($"device noticed our own fault: {notice}");
        }
    }

    private void Notice(string text)
    {
        lock (_gate) _notices.Add(text);
    }

    void IVirtioInterrupts.SignalQueue(int queue) => _events.Release();

    void IVirtioInterrupts.SignalConfigChange() { }

    void IVirtioInterrupts.MarkNeedsReset(string reason)
    {
        lock (_gate) _resetReason ??= reason;
        _events.Release();
    }
}
