using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>What <see cref="MsiRouteCache"/> asks of the kernel; a fake stands in for it in unit tests.</summary>
public interface IMsiRouteKernel
{
    /// <summary>KVM_SET_GSI_ROUTING with the whole table; false if the kernel refused it.</summary>
    bool SetRouting(ReadOnlySpan<KvmIrqRoutingEntry> table);

    /// <summary>KVM_IRQFD: a signal on <paramref name="notifier"/> raises <paramref name="gsi"/>; false if refused.</summary>
    bool AttachIrqfd(uint gsi, EventNotifier notifier);

    void DetachIrqfd(uint gsi, EventNotifier notifier);
}

/// <summary>
/// Turns repeated MSIs into irqfd signals: the first time a device sends an (address, data) message it
/// gets a GSI routed to that message and an eventfd bound to the GSI; later sends just signal the eventfd,
/// which the kernel turns into the interrupt with no ioctl (api.rst, KVM_IRQFD and KVM_SET_GSI_ROUTING).
/// Lookups are lock-free on an immutable snapshot; misses take a lock and publish a new snapshot.
/// </summary>
public sealed class MsiRouteCache : IDisposable
{
    /// <summary>Enough for every vector of a few dozen queues; a guest that keeps retargeting its MSIs
    /// past this is served by the slow path, never by unbounded growth.</summary>
    public const int DefaultCapacity = 256;

    private readonly IMsiRouteKernel _kernel;
    private readonly int _capacity;
    private readonly Action<string> _notice;
    private readonly object _gate = new();
    private readonly List<MsiRoute> _routes = [];
    private readonly List<EventNotifier> _notifiers = [];
    private Dictionary<(ulong Address, uint Data), EventNotifier> _snapshot = [];
    private bool _full, _failed, _disposed;

    /// <param name="kernel">The VM's routing ioctls.</param>
    /// <param name="capacity">MSI routes at most (bounded by the GSIs the kernel allows above the IOAPIC's).</param>
    /// <param name="notice">Told once, in one line, when the cache stops taking new routes.</param>
    public MsiRouteCache(IMsiRouteKernel kernel, int capacity, Action<string> notice)
    {
        _kernel = kernel;
        _capacity = Math.Max(0, capacity);
        _notice = notice;
    }

    /// <summary>Signals the message through its irqfd; false when it has none and cannot get one (send it another way).</summary>
    public bool TrySignal(ulong address, uint data)
    {
        if (Volatile.Read(ref _snapshot).TryGetValue((address, data), out var notifier))
        {
            notifier.Signal();
            return true;
        }
        return TryAddAndSignal(address, data);
    }

    public int Count => Volatile.Read(ref _snapshot).Count;

    private bool TryAddAndSignal(ulong address, uint data)
    {
        lock (_gate)
        {
            if (_disposed) return false;
            if (_snapshot.TryGetValue((address, data), out var existing))
            {
                existing.Signal();
                return true;
            }
            if (_failed) return false;
            if (_routes.Count >= _capacity)
            {
                if (!_full) _notice($"more than {_capacity} distinct MSI messages: the extra ones use KVM_SIGNAL_MSI");
                _full = true;
                return false;
            }
            var route = new MsiRoute(address, data, KvmIrqRoutingTable.FirstMsiGsi + (uint)_routes.Count);
            _routes.Add(route);
            if (!_kernel.SetRouting(KvmIrqRoutingTable.Build(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_routes))))
                return Fail("KVM_SET_GSI_ROUTING");
            var notifier = new EventNotifier();
            if (!_kernel.AttachIrqfd(route.Gsi, notifier))
            {
                notifier.Dispose();
                return Fail("KVM_IRQFD");
            }
            _notifiers.Add(notifier);
            var next = new Dictionary<(ulong, uint), EventNotifier>(_snapshot) { [(address, data)] = notifier };
            Volatile.Write(ref _snapshot, next);
            notifier.Signal();
            return true;
        }
    }

    private bool Fail(string operation)
    {
        // The route just added stays in the kernel's table unused (its GSI has no irqfd): harmless.
        _routes.RemoveAt(_routes.Count - 1);
        _failed = true;
        _notice($"{operation} failed: MSIs use KVM_SIGNAL_MSI from now on");
        return false;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Volatile.Write(ref _snapshot, []);
            for (int i = 0; i < _notifiers.Count; i++)
            {
                _kernel.DetachIrqfd(_routes[i].Gsi, _notifiers[i]);
                _notifiers[i].Dispose();
            }
        }
    }
}
