using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// poll(2) on handles: struct pollfd carries a bare number, so each handle is leased (<see cref="HandleLease"/>) for
/// the call and a disposed one is polled as -1, which poll skips (revents 0). No number outlives its lease.
/// </summary>
public static unsafe class HandlePoll
{
    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="events"/> on one handle: the revents, 0 on timeout (or a disposed handle's timeout), or -errno (EINTR included).</summary>
    public static int Wait(SafeHandle handle, short events, int timeoutMs)
    {
        HandleLease.TryTake(handle, out var lease);
        using (lease)
        {
            var poll = new PollFd { Fd = lease.Number, Events = events };
            int n = LibcImports.Poll(&poll, 1, timeoutMs);
            if (n < 0) return -Marshal.GetLastPInvokeError();
            return n == 0 ? 0 : poll.Revents;
        }
    }

    /// <summary>
    /// poll(2) on <paramref name="fds"/>, whose entry i is for <paramref name="handles"/>[i] (its Fd field is filled in
    /// here; a null or disposed handle polls as -1): the count ready, or -errno.
    /// </summary>
    public static int Wait(ReadOnlySpan<SafeHandle?> handles, Span<PollFd> fds, int timeoutMs)
    {
        if (fds.Length != handles.Length) throw new ArgumentException("one pollfd per handle", nameof(fds));
        int taken = 0;
        try
        {
            for (; taken < handles.Length; taken++)
                fds[taken].Fd = Take(handles[taken]);
            int n;
            fixed (PollFd* p = fds) n = LibcImports.Poll(p, (nuint)fds.Length, timeoutMs);
            return n < 0 ? -Marshal.GetLastPInvokeError() : n;
        }
        finally
        {
            for (int i = 0; i < taken; i++)
                if (fds[i].Fd >= 0) handles[i]!.DangerousRelease();
        }
    }

    /// <summary>A reference on <paramref name="handle"/> and its number, or -1 (no reference) when it is null or closed.</summary>
    private static int Take(SafeHandle? handle)
    {
        if (handle is null || handle.IsClosed || handle.IsInvalid) return -1;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        return unchecked((int)handle.DangerousGetHandle());
    }
}
