using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// An eventfd (eventfd(2)) used as a doorbell between threads, and between KVM and us: one side
/// <see cref="Signal"/>s, the other polls <see cref="Handle"/> for POLLIN and <see cref="Drain"/>s it.
/// Signals that arrive before the drain coalesce into one wake-up, which is what a queue notification
/// means (virtio 1.2 §2.9: "there are buffers to look at"). Non-blocking and close-on-exec.
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

    /// <summary>Adds one to the counter; never blocks (the counter cannot realistically reach 2^64-1).</summary>
    public void Signal()
    {
        ulong one = 1;
        LibcImports.Write(Handle.Number, &one, sizeof(ulong));
    }

    /// <summary>Resets the counter to zero; true when it had been signalled since the last drain.</summary>
    public bool Drain()
    {
        ulong value;
        return LibcImports.Read(Handle.Number, &value, sizeof(ulong)) == sizeof(ulong);
    }

    public void Dispose() => Handle.Dispose();
}
