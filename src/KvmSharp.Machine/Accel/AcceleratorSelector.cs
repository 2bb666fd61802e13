using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.Accel;

/// <summary>
/// Turns --accel into an accelerator. "auto" does not trust /dev/kvm blindly: it runs
/// <see cref="KvmProbe"/> and falls back to the software CPU where KVM is missing, refuses, or is
/// software-backed and slow, saying so in one line.
/// </summary>
public static class AcceleratorSelector
{
    public static IAccelerator Select(AcceleratorChoice choice, Action<string> inform)
    {
        switch (choice)
        {
            case AcceleratorChoice.Kvm:
                return new KvmAccelerator(notice: inform);
            case AcceleratorChoice.Emulate:
                return new EmulatorAccelerator(inform);
            default:
                var probe = KvmProbe.Run();
                if (probe.Usable) return new KvmAccelerator(notice: inform);
                inform($"kvmsharp: {probe.Summary}; using the software CPU (--accel emulate)");
                return new EmulatorAccelerator(inform);
        }
    }
}
