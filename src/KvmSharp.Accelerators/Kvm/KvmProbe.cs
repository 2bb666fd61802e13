using System.Diagnostics;
using Iced.Intel;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>What the KVM probe found.</summary>
/// <param name="Usable">KVM runs guests at hardware speed here.</param>
/// <param name="Summary">One line for the user.</param>
/// <param name="LoopTime">Time for the probe's timed loop (null when it did not get that far).</param>
public sealed record KvmProbeResult(bool Usable, string Summary, TimeSpan? LoopTime);

/// <summary>
/// Finds out whether /dev/kvm is real hardware virtualization: a tiny guest executes one SSE instruction
/// (a software-backed KVM such as PVM fails to emulate it) and then a timed loop of
/// <see cref="LoopIterations"/> iterations (hardware: well under a millisecond; instruction-by-instruction
/// emulation: about a hundred milliseconds).
/// </summary>
public static class KvmProbe
{
    public const int LoopIterations = 100_000;

    /// <summary>A loop slower than this is not hardware virtualization (2 instructions per iteration at 1 ns or less each on hardware).</summary>
    public static readonly TimeSpan SlowLoopThreshold = TimeSpan.FromMilliseconds(20);

    private const ulong CodeAddress = 0x1000;
    private const byte DonePort = 0x80;

    public static KvmProbeResult Run(string devicePath = KvmSystem.DevicePath)
    {
        try
        {
            using var memory = GuestMemory.Create(MemoryMap.MinimumRam);
            memory.Write(new GuestAddress(CodeAddress), ProbeCode());
            using var accelerator = new KvmAccelerator(devicePath);
            using var vm = accelerator.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
            using var vcpu = vm.CreateVcpu(0);
            using var attachment = vcpu.AttachToCurrentThread();
            StartFlat32WithSse(vcpu);

            var first = vcpu.Run();
            if (first.Reason == VcpuExitReason.Failed)
                return new(false, $"{devicePath} is software-backed, not VT-x/AMD-V: it failed to execute an SSE instruction (pxor)", null);
            if (first.Reason != VcpuExitReason.IoOut || first.Address != DonePort)
                return new(false, $"{devicePath} misbehaved on the probe guest (exit {first.Reason})", null);

            var clock = Stopwatch.StartNew();
            var second = vcpu.Run();
            clock.Stop();
            if (second.Reason != VcpuExitReason.IoOut || second.Address != DonePort)
                return new(false, $"{devicePath} misbehaved on the probe guest's loop (exit {second.Reason})", null);
            if (clock.Elapsed > SlowLoopThreshold)
                return new(false, $"{devicePath} is software-backed, not VT-x/AMD-V: {LoopIterations:N0} guest loop iterations took {clock.Elapsed.TotalMilliseconds:F0} ms (hardware: under 1 ms)", clock.Elapsed);
            return new(true, $"{devicePath} is hardware-accelerated ({LoopIterations:N0} guest loop iterations in {clock.Elapsed.TotalMilliseconds:F2} ms)", clock.Elapsed);
        }
        catch (AcceleratorException e)
        {
            return new(false, e.Message, null);
        }
        catch (Native.Libc.NativeException e)
        {
            return new(false, $"{devicePath} is present but does not work: {e.Message}", null);
        }
    }

    /// <summary>pxor; out 0x80 (SSE done); a dec/jnz loop; out 0x80 (loop done).</summary>
    private static byte[] ProbeCode()
    {
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        a.pxor(xmm0, xmm0);
        a.@out(DonePort, al);
        a.mov(ecx, LoopIterations);
        a.Label(ref loop);
        a.dec(ecx);
        a.jnz(loop);
        a.@out(DonePort, al);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        return stream.ToArray();
    }

    private static void StartFlat32WithSse(IVcpu vcpu)
    {
        vcpu.GetSpecialRegisters(out var s);
        s.Cs = Segment.Flat(0x08, 0xB, code64: false);
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = Segment.Flat(0x10, 0x3, code64: false);
        // SSE needs CR0.EM clear, CR0.MP set and CR4.OSFXSR set (Intel SDM vol 3 §13.1.3).
        s.Cr0 = (s.Cr0 | SpecialRegisters.Cr0ProtectionEnable | SpecialRegisters.Cr0MonitorCoprocessor) & ~4UL;
        s.Cr4 |= SpecialRegisters.Cr4OsFxsr | SpecialRegisters.Cr4OsXmmExcpt;
        vcpu.SetSpecialRegisters(s);
        vcpu.SetRegisters(new Registers { Rip = CodeAddress, Rflags = Registers.FlagsReserved });
    }
}
