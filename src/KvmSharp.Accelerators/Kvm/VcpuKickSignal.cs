using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// The real-time signal that kicks a vCPU thread out of KVM_RUN. No handler is installed (the .NET
/// runtime owns signal handling): the vCPU thread keeps the signal blocked, and KVM unblocks it only
/// while the guest runs (KVM_SET_SIGNAL_MASK), so a kick makes KVM_RUN return EINTR and the signal stays
/// pending until the thread takes it with a zero-timeout sigtimedwait. SIGRTMIN+4 is clear of the
/// signals the runtime and glibc use for themselves.
/// </summary>
internal static unsafe class VcpuKickSignal
{
    public static readonly int Number = LibcImports.CurrentSigRtMin() + 4;

    /// <summary>Blocks the signal on the calling thread and returns the thread's previous mask.</summary>
    public static SigSet BlockOnCurrentThread()
    {
        SigSet block = default, old = default;
        block.Add(Number);
        if (LibcImports.PthreadSigmask(LibcConstants.SIG_BLOCK, &block, &old) != 0)
            throw new AcceleratorException("pthread_sigmask failed on a vCPU thread");
        return old;
    }

    /// <summary>Restores a mask saved by <see cref="BlockOnCurrentThread"/>, after taking any kick still pending.</summary>
    public static void Restore(SigSet old)
    {
        ConsumePending();
        LibcImports.PthreadSigmask(LibcConstants.SIG_SETMASK, &old, null);
    }

    /// <summary>Takes a pending kick, if any, without waiting.</summary>
    public static void ConsumePending()
    {
        SigSet set = default;
        set.Add(Number);
        TimeSpec zero = default;
        while (LibcImports.SigTimedWait(&set, null, &zero) == Number) { }
    }
}
