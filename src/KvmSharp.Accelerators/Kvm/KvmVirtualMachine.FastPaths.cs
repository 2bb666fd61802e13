using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// The exit-free paths between devices and the guest (Documentation/virt/kvm/api.rst): ioeventfd turns a
/// guest's doorbell write into an eventfd signal inside the kernel, and irqfd plus GSI routing turns an
/// eventfd signal from a device thread into an MSI without an ioctl. Where the host's KVM lacks them,
/// doorbells stay MMIO exits and MSIs go through KVM_SIGNAL_MSI, and a notice says so once.
/// </summary>
public sealed unsafe partial class KvmVirtualMachine
{
    private readonly MsiRouteCache? _msiRoutes;
    private readonly bool _ioEventsSupported;
    private readonly List<(ulong Address, int Length, EventNotifier Notifier)> _ioEvents = [];

    private MsiRouteCache? CreateMsiRoutes(Action<string> notice)
    {
        int gsiCount = _system.CheckExtension(KvmCapability.IrqRouting);
        if (gsiCount <= 0 || _system.CheckExtension(KvmCapability.Irqfd) <= 0)
        {
            notice("this host's KVM lacks irqfd or GSI routing: every MSI costs an ioctl (KVM_SIGNAL_MSI)");
            return null;
        }
        int capacity = Math.Min(MsiRouteCache.DefaultCapacity, gsiCount - (int)KvmIrqRoutingTable.FirstMsiGsi);
        return new MsiRouteCache(new RouteKernel(this), capacity, notice);
    }

    private bool ProbeIoEvents(Action<string> notice)
    {
        if (_system.CheckExtension(KvmCapability.Ioeventfd) > 0) return true;
        notice("this host's KVM lacks ioeventfd: every virtio doorbell is a vCPU exit");
        return false;
    }

    public bool TryAddIoEventNotifier(ulong address, int length, EventNotifier notifier)
    {
        // KVM accepts 1, 2, 4 or 8 bytes (0 means any length, which the interface does not offer).
        if (!_ioEventsSupported || length is not (1 or 2 or 4 or 8)) return false;
        lock (_ioEvents)
        {
            if (!IoEventFd(address, length, notifier, 0)) return false;
            _ioEvents.Add((address, length, notifier));
            return true;
        }
    }

    public void RemoveIoEventNotifier(ulong address, int length, EventNotifier notifier)
    {
        lock (_ioEvents)
        {
            int index = _ioEvents.IndexOf((address, length, notifier));
            if (index < 0) return;
            _ioEvents.RemoveAt(index);
            IoEventFd(address, length, notifier, KvmIoeventfd.FlagDeassign);
        }
    }

    private void RemoveAllIoEventNotifiers()
    {
        lock (_ioEvents)
        {
            foreach (var (address, length, notifier) in _ioEvents)
                IoEventFd(address, length, notifier, KvmIoeventfd.FlagDeassign);
            _ioEvents.Clear();
        }
    }

    private bool IoEventFd(ulong address, int length, EventNotifier notifier, uint flags)
    {
        // The struct carries the eventfd's number: the lease keeps it the notifier's for the call (KVM takes its own reference).
        using var lease = new HandleLease(notifier.Handle);
        var request = new KvmIoeventfd { Address = address, Length = (uint)length, Fd = lease.Number, Flags = flags };
        return LibcImports.Ioctl(_fd, KvmIoctls.Ioeventfd, &request) == 0;
    }

    /// <summary>The VM's routing and irqfd ioctls, as the MSI route cache needs them.</summary>
    private sealed class RouteKernel(KvmVirtualMachine vm) : IMsiRouteKernel
    {
        public bool SetRouting(ReadOnlySpan<KvmIrqRoutingEntry> table)
        {
            // struct kvm_irq_routing is a header followed by its entries in one buffer.
            int size = sizeof(KvmIrqRoutingHeader) + table.Length * sizeof(KvmIrqRoutingEntry);
            var buffer = new byte[size];
            fixed (byte* p = buffer)
            {
                *(KvmIrqRoutingHeader*)p = new KvmIrqRoutingHeader { EntryCount = (uint)table.Length };
                table.CopyTo(new Span<KvmIrqRoutingEntry>(p + sizeof(KvmIrqRoutingHeader), table.Length));
                return LibcImports.Ioctl(vm._fd, KvmIoctls.SetGsiRouting, p) == 0;
            }
        }

        public bool AttachIrqfd(uint gsi, EventNotifier notifier) => Irqfd(gsi, notifier, 0);

        public void DetachIrqfd(uint gsi, EventNotifier notifier) => Irqfd(gsi, notifier, KvmIrqfd.FlagDeassign);

        private bool Irqfd(uint gsi, EventNotifier notifier, uint flags)
        {
            // The struct carries the eventfd's number: the lease keeps it the notifier's for the call (KVM takes its own reference).
            using var lease = new HandleLease(notifier.Handle);
            var request = new KvmIrqfd { Fd = (uint)lease.Number, Gsi = gsi, Flags = flags };
            return LibcImports.Ioctl(vm._fd, KvmIoctls.Irqfd, &request) == 0;
        }
    }
}
