using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// A reference on a <see cref="SafeHandle"/> held for a scope (<c>using var lease = new HandleLease(h)</c>), for the
/// few calls that need the descriptor's number inside a struct or a path (poll's pollfd, KVM_IRQFD, /proc/self/fd/N):
/// a Dispose of the handle meanwhile only marks it disposed, and the descriptor is closed when the last reference
/// goes (this lease's end, say), so <see cref="Number"/> cannot come to mean another file while the lease lives.
/// </summary>
public ref struct HandleLease
{
    private readonly SafeHandle? _handle;
    private bool _added;

    /// <summary>Takes a reference; throws ObjectDisposedException when the handle is already closed.</summary>
    public HandleLease(SafeHandle handle)
    {
        _handle = handle;
        handle.DangerousAddRef(ref _added);
        Number = unchecked((int)handle.DangerousGetHandle());
    }

    /// <summary>The descriptor's number, valid until <see cref="Dispose"/>; -1 for a lease that holds nothing.</summary>
    public int Number { get; private set; } = -1;

    /// <summary>A lease on <paramref name="handle"/>, or false (and an empty lease) once it is closed (disposed, with no reference left).</summary>
    public static bool TryTake(SafeHandle handle, out HandleLease lease)
    {
        lease = default;
        lease.Number = -1;
        if (handle.IsClosed || handle.IsInvalid) return false;
        try
        {
            lease = new HandleLease(handle);
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;   // disposed between the check and the reference
        }
    }

    public void Dispose()
    {
        if (!_added) return;
        _added = false;
        Number = -1;
        _handle!.DangerousRelease();
    }
}
