using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// An eventfd (eventfd(2)) used as a doorbell between threads, and between KVM and us: one side
/// <see cref="Signal"/>s, the other polls <see cref="Handle"/> for POLLIN and <see cref="Drain"/>s it.
/// Signals that arrive before the drain coalesce into one wake-up, which is what a queue notification
/// means (virtio 1.2 §2.9: "there are buffers to look at"). Non-blocking and close-on-exec.
/// <para>
/// Safe against a racing <see cref="Dispose"/>: each call holds a reference on the handle, so the descriptor is
/// closed only after the call; a signal or drain after the dispose does nothing (a doorbell rung for a device that is
/// gone means nothing) and can never write into a file that reused the number.
/// </para>
/// </summary>
public sealed unsafe class EventNotifier : IDisposable
{
    public EventNotifier()
    {
        int fd = LibcImports.EventFd(0, LibcConstants.EFD_CLOEXEC | LibcConstants.EFD_NONBLOCK);
        if (fd < 0) throw new NativeException("eventfd", Marshal.GetLastPInvokeError());
        Handle = new FileDescriptor(fd);
    }

    public FileDescriptor Handle { get; }

    /// <summary>Adds one to the counter; never blocks (the counter cannot realistically reach 2^64-1); nothing once disposed.</summary>
    public void Signal()
    {
        if (!HandleLease.TryTake(Handle, out var lease)) return;
        using (lease)
        {
            ulong one = 1;
            LibcImports.Write(lease.Number, &one, sizeof(ulong));
        }
    }

    /// <summary>Resets the counter to zero; true when it had been signalled since the last drain (false once disposed).</summary>
    public bool Drain()
    {
        if (!HandleLease.TryTake(Handle, out var lease)) return false;
        using (lease)
        {
            ulong value;
            return LibcImports.Read(lease.Number, &value, sizeof(ulong)) == sizeof(ulong);
        }
    }

    public void Dispose() => Handle.Dispose();
}
