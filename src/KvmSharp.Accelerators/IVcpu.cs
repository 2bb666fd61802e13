using KvmSharp.Native.X86;
using KvmSharp.State;

namespace KvmSharp.Accelerators;

/// <summary>
/// One virtual CPU. <see cref="Run"/> and the register accessors belong to the thread that runs it;
/// <see cref="Kick"/> may be called from any thread.
/// </summary>
public interface IVcpu : IDisposable, IStateful<VcpuState>
{
    int Index { get; }

    /// <summary>
    /// Binds the vCPU to the calling thread: call on the thread that will call <see cref="Run"/>, before
    /// the first run (KVM uses it to make the thread kickable). Dispose the result on the same thread
    /// when it stops running the vCPU; kicks after that are ignored.
    /// </summary>
    IDisposable AttachToCurrentThread();

    /// <summary>
    /// Runs the guest until it needs the VMM. The exit's data span points into state owned by the
    /// vCPU and is valid only until the next call; it is a ref struct so it cannot outlive the run.
    /// </summary>
    VcpuExit Run();

    /// <summary>
    /// Makes the current or next <see cref="Run"/> return <see cref="VcpuExitReason.Kicked"/> soon.
    /// Safe from any thread; several kicks before the vCPU notices are one kick.
    /// </summary>
    void Kick();

    void GetRegisters(out Registers registers);
    void SetRegisters(in Registers registers);
    void GetSpecialRegisters(out SpecialRegisters registers);
    void SetSpecialRegisters(in SpecialRegisters registers);
    void GetFpu(out FpuState fpu);
    void SetFpu(in FpuState fpu);

    /// <summary>Reads model-specific registers; <paramref name="values"/>[i] receives MSR <paramref name="indices"/>[i].</summary>
    void GetMsrs(ReadOnlySpan<uint> indices, Span<ulong> values);
    void SetMsrs(ReadOnlySpan<uint> indices, ReadOnlySpan<ulong> values);

    /// <summary>Translates a guest-linear address through the vCPU's current paging mode; null when not mapped.</summary>
    ulong? TranslateLinearAddress(ulong linear);

    // ---- pause, save and load (snapshots, live migration) ---------------------------------------
    // All four are called on the vCPU's own thread, outside Run, while the machine is paused.

    /// <summary>
    /// Finishes the instruction whose exit the VMM has just answered (a port or MMIO read, string I/O), so that
    /// the state saved next holds no half-done instruction. KVM: KVM_RUN with immediate_exit set, which
    /// completes the emulation and returns at once (api.rst, "immediate_exit"). Call before parking the thread.
    /// </summary>
    void CompletePendingIo();

    /// <summary>
    /// The vCPU is about to park for a pause. KVM: KVM_KVMCLOCK_CTRL, which tells a guest with kvmclock that it
    /// was paused, so its soft-lockup watchdog does not fire on resume (a guest without kvmclock is fine too).
    /// </summary>
    void OnPaused();

    // SaveState (IStateful): everything of this vCPU a restored machine needs, with no half-done exit (see
    // CompletePendingIo). RestoreState: the state is hostile input; a state of the other accelerator, of another
    // vCPU index, or with any value out of range is refused with a StateException that names the field, before
    // the vCPU changes where that is possible.
}
