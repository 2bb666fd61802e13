using System.Runtime.InteropServices;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// One KVM vCPU: its fd, its kvm_run page and the thread that runs it. <see cref="Run"/> allocates
/// nothing on the exits the guest can cause in a loop (port I/O, MMIO, kicks).
/// </summary>
public sealed unsafe partial class KvmVcpu : IVcpu
{
    private readonly KvmVirtualMachine _vm;
    private readonly FileDescriptor _fd;
    private readonly MappedMemory _runMapping;
    private readonly KvmRun* _run;
    private readonly Lock _threadLock = new();
    private nuint _thread;
    private bool _attached;
    // The vCPU fd's number while a thread is attached: AttachToCurrentThread takes a reference on _fd (and on the
    // kvm_run mapping) that only Detach gives back, so a Dispose meanwhile closes neither before the thread lets go.
    private int _runNumber = -1;
    private bool _awaitsCompletion, _deferredExit;

    internal KvmVcpu(KvmVirtualMachine vm, FileDescriptor fd, int index, int runMmapSize)
    {
        _vm = vm;
        _fd = fd;
        Index = index;
        _runMapping = MappedMemory.Shared(fd, (nuint)runMmapSize);
        _run = (KvmRun*)_runMapping.Address;
    }

    public int Index { get; }

    public IDisposable AttachToCurrentThread()
    {
        lock (_threadLock)
        {
            if (_attached) throw new InvalidOperationException($"vCPU {Index} is already attached to a thread");
            var old = VcpuKickSignal.BlockOnCurrentThread();
            // KVM runs the guest with this mask: the thread's own, with the kick signal let through.
            var runMask = old;
            runMask.Remove(VcpuKickSignal.Number);
            var kvmMask = new KvmSignalMask { Length = 8, SigsetLow = (uint)runMask.Bits[0], SigsetHigh = (uint)(runMask.Bits[0] >> 32) };
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetSignalMask, &kvmMask), "KVM_SET_SIGNAL_MASK");
            bool fdAdded = false, runAdded = false;
            _fd.DangerousAddRef(ref fdAdded);
            _runMapping.DangerousAddRef(ref runAdded);
            _runNumber = _fd.DangerousNumberForHotPath;   // owner: the reference just taken, released in Detach
            _thread = LibcImports.PthreadSelf();
            _attached = true;
            return new ThreadAttachment(this, old);
        }
    }

    private void Detach(SigSet old)
    {
        lock (_threadLock)
        {
            _attached = false;
            _thread = 0;
            _runNumber = -1;
            VcpuKickSignal.Restore(old);
            _runMapping.DangerousRelease();
            _fd.DangerousRelease();
        }
    }

    public void Kick()
    {
        // immediate_exit covers a kick that lands between two KVM_RUN calls; the signal covers one inside KVM_RUN.
        // A kick after Dispose finds the kvm_run page gone and does nothing, rather than writing to unmapped memory.
        if (!HandleLease.TryTake(_runMapping, out var mapping)) return;
        using (mapping)
        {
            Volatile.Write(ref _run->ImmediateExit, 1);
            lock (_threadLock)
            {
                if (_attached) LibcImports.PthreadKill(_thread, VcpuKickSignal.Number);
            }
        }
    }

    public VcpuExit Run()
    {
        if (_deferredExit)
        {
            // CompletePendingIo's KVM_RUN ended in a new exit (string I/O going on): it is still in kvm_run.
            _deferredExit = false;
            return DecodeExit();
        }
        _awaitsCompletion = false;
        // The hot path: the raw number, whose owner is the attachment's reference on _fd (AttachToCurrentThread takes
        // it, Detach on this same thread gives it back), so it cannot be closed or reused while this call runs.
        int number = _runNumber;
        int rc = number >= 0 ? LibcImports.Ioctl(number, KvmIoctls.Run, 0) : LibcImports.Ioctl(_fd, KvmIoctls.Run, 0);
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is LibcConstants.EINTR or LibcConstants.EAGAIN)
            {
                Volatile.Write(ref _run->ImmediateExit, 0);
                VcpuKickSignal.ConsumePending();
                return new VcpuExit { Reason = VcpuExitReason.Kicked };
            }
            return Failed($"KVM_RUN failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        return DecodeExit();
    }

    private VcpuExit DecodeExit()
    {
        // Port I/O and MMIO finish inside the next KVM_RUN (reads take their data from kvm_run then).
        _awaitsCompletion = _run->ExitReason is KvmExitReason.Io or KvmExitReason.Mmio;
        switch (_run->ExitReason)
        {
            case KvmExitReason.Io:
            {
                ref var io = ref _run->Io;
                int size = io.Size, count = (int)io.Count;
                if (io.DataOffset + (ulong)(size * count) > _runMapping.Length)
                    return Failed("KVM reported port I/O data outside the kvm_run area");
                var data = new Span<byte>((byte*)_run + io.DataOffset, size * count);
                return new VcpuExit
                {
                    Reason = io.Direction == KvmExitReason.IoOut ? VcpuExitReason.IoOut : VcpuExitReason.IoIn,
                    Address = io.Port, Size = size, Count = count, Data = data,
                };
            }
            case KvmExitReason.Mmio:
            {
                ref var mmio = ref _run->Mmio;
                int length = (int)Math.Min(mmio.Length, 8u);
                fixed (byte* data = mmio.Data)
                    return new VcpuExit
                    {
                        Reason = mmio.IsWrite != 0 ? VcpuExitReason.MmioWrite : VcpuExitReason.MmioRead,
                        Address = mmio.PhysAddr, Size = length, Count = 1, Data = new Span<byte>(data, length),
                    };
            }
            case KvmExitReason.Hlt:
                return new VcpuExit { Reason = VcpuExitReason.Halt };
            case KvmExitReason.Shutdown:
                return new VcpuExit { Reason = VcpuExitReason.Shutdown };
            case KvmExitReason.Intr:
                return new VcpuExit { Reason = VcpuExitReason.Kicked };
            case KvmExitReason.SystemEvent:
                return new VcpuExit
                {
                    Reason = _run->SystemEvent.Type == KvmExitReason.SystemEventReset ? VcpuExitReason.Reset : VcpuExitReason.Shutdown,
                };
            case KvmExitReason.InternalError:
                return Failed(DescribeInternalError());
            case KvmExitReason.FailEntry:
                return Failed($"KVM could not enter the guest (hardware entry failure reason 0x{_run->FailEntry.HardwareEntryFailureReason:x})");
            default:
                return Failed($"unexpected KVM exit reason {_run->ExitReason}");
        }
    }

    private static VcpuExit Failed(string message) => new() { Reason = VcpuExitReason.Failed, Message = message };

    internal void SetCpuid(KvmCpuidEntry2[] entries)
    {
        int bytes = sizeof(KvmCpuid2Header) + entries.Length * sizeof(KvmCpuidEntry2);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            ((KvmCpuid2Header*)buffer)->EntryCount = (uint)entries.Length;
            entries.CopyTo(new Span<KvmCpuidEntry2>(buffer + sizeof(KvmCpuid2Header), entries.Length));
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetCpuid2, buffer), "KVM_SET_CPUID2");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public void Dispose()
    {
        _runMapping.Dispose();
        _fd.Dispose();
    }

    private sealed class ThreadAttachment(KvmVcpu vcpu, SigSet old) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) vcpu.Detach(old);
        }
    }
}
