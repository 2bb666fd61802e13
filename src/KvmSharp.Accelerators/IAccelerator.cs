using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Accelerators;

/// <summary>
/// A way to run a guest: KVM, or the software CPU. The machine layer sees only these interfaces,
/// so every device, loader and management feature works the same on both.
/// </summary>
public interface IAccelerator : IDisposable
{
    /// <summary>"kvm" or "emulate".</summary>
    string Name { get; }

    /// <summary>Creates a VM whose RAM is <paramref name="memory"/> (mapped in full) with the platform interrupt controllers.</summary>
    IVirtualMachine CreateVirtualMachine(GuestMemory memory, VirtualMachineOptions options);
}

/// <summary>What the accelerator builds into a VM besides RAM and the interrupt controllers.</summary>
/// <param name="VcpuCount">vCPUs the VM will have.</param>
/// <param name="LegacyTimer">
/// An i8254 PIT at ports 0x40–0x43 (and 0x61). Every PC has one and Linux's boot-time timer check uses
/// it; a guest that needs no PIT can leave it out (on KVM its kernel thread makes VM teardown slower).
/// </param>
/// <param name="InstructionCountShift">
/// Deterministic guest time (software CPU only): each instruction is 2^shift ns of guest time, as
/// QEMU's <c>-icount shift=N</c>; null: guest time follows host time.
/// </param>
/// <param name="Translator">
/// The software CPU's block translator (<c>--jit</c>); null: <see cref="Emulate.Translate.TranslatorModes.Default"/>.
/// KVM has none and ignores it.
/// </param>
public sealed record VirtualMachineOptions(int VcpuCount, bool LegacyTimer = true, int? InstructionCountShift = null,
    Emulate.Translate.TranslatorMode? Translator = null);

/// <summary>One guest: its memory slots, its vCPUs and its interrupt lines.</summary>
public interface IVirtualMachine : IDisposable, IStateful<VmState>
{
    GuestMemory Memory { get; }

    /// <summary>Creates vCPU <paramref name="index"/> (0 is the bootstrap processor). Call from any thread.</summary>
    IVcpu CreateVcpu(int index);

    /// <summary>
    /// Drives a global system interrupt (GSI) line of the interrupt controllers: high or low.
    /// An edge-triggered input fires on the rising edge; a level-triggered one while high.
    /// </summary>
    void SetInterruptLine(uint gsi, bool high);

    /// <summary>
    /// Sends a message-signalled interrupt: the address/data pair a device wrote to 0xFEExxxxx
    /// (SDM vol 3 §11.11). Call from any thread; allocates nothing.
    /// </summary>
    void SignalMsi(ulong address, uint data);

    /// <summary>
    /// Has the accelerator signal <paramref name="notifier"/> itself when the guest writes exactly
    /// <paramref name="length"/> bytes at MMIO <paramref name="address"/>, without a vCPU exit to the VMM
    /// (KVM_IOEVENTFD). False where it cannot; such writes then reach the MMIO bus as usual.
    /// </summary>
    bool TryAddIoEventNotifier(ulong address, int length, Native.Libc.EventNotifier notifier) => false;

    /// <summary>Undoes <see cref="TryAddIoEventNotifier"/>; nothing if it was not added.</summary>
    void RemoveIoEventNotifier(ulong address, int length, Native.Libc.EventNotifier notifier) { }

    /// <summary>
    /// The guest's own time where it is not the host's (the software CPU's instruction-counted time):
    /// clocked devices (PM timer, CMOS clock) follow it. Null: host time.
    /// </summary>
    TimeProvider? GuestTime => null;

    // ---- pause, save and load (snapshots, live migration) ---------------------------------------

    /// <summary>
    /// Stops guest time for a pause (after the vCPUs parked): timers and deadlines do not advance while paused.
    /// KVM: KVM_GET_CLOCK now, put back by <see cref="ResumeTime"/>; the software CPU: its clock stands still.
    /// </summary>
    void PauseTime();

    /// <summary>Guest time goes on from where <see cref="PauseTime"/> stopped it (before the vCPUs run again).</summary>
    void ResumeTime();

    // SaveState (IStateful): the interrupt controllers and timers the accelerator keeps, and guest time; call
    // while paused. RestoreState: while paused, before the vCPUs' states; hostile input (a state of the other
    // accelerator or with a value out of range is refused with a StateException); guest time continues from the
    // saved time.

    // ---- dirty-page logging (live migration's pre-copy) -----------------------------------------

    /// <summary>
    /// Starts recording which guest pages the vCPUs write. KVM: KVM_MEM_LOG_DIRTY_PAGES on every slot. The
    /// software CPU: write tracking through its TLB, which needs every vCPU parked (outside Run) for this call.
    /// Writes by devices are <see cref="GuestMemory.StartWriteLog"/>'s, not this log's.
    /// </summary>
    void StartDirtyLog();

    /// <summary>
    /// ORs the pages written since the last collect (or the start) into <paramref name="into"/>, laid out for
    /// <see cref="Memory"/>'s regions, and clears the accelerator's log. KVM: KVM_GET_DIRTY_LOG per slot. The
    /// software CPU: needs every vCPU parked.
    /// </summary>
    void CollectDirtyPages(DirtyPageBitmap into);

    /// <summary>Stops recording (KVM: the slots drop KVM_MEM_LOG_DIRTY_PAGES); what was not collected is lost.</summary>
    void StopDirtyLog();
}
