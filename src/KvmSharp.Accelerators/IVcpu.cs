using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators;

/// <summary>
/// One virtual CPU. <see cref="Run"/> and the register accessors belong to the thread that runs it;
/// <see cref="Kick"/> may be called from any thread.
/// </summary>
public interface IVcpu : IDisposable
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
}
