using KvmSharp.Accelerators;
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
    public const string SoftwareCpuMissing =
        "the software x86-64 CPU (--accel emulate) is not part of this build yet";

    public static IAccelerator Select(AcceleratorChoice choice)
    {
        switch (choice)
        {
            case AcceleratorChoice.Kvm:
                return new KvmAccelerator();
            case AcceleratorChoice.Emulate:
                throw new AcceleratorException($"{SoftwareCpuMissing}; use --accel kvm on a host with /dev/kvm");
            default:
                var probe = KvmProbe.Run();
                if (probe.Usable) return new KvmAccelerator();
                // Where the software CPU exists, this becomes a one-line notice and the fallback to it.
                throw new AcceleratorException(
                    $"{probe.Summary}, and {SoftwareCpuMissing}: use --accel kvm to run a tiny guest on this /dev/kvm anyway");
        }
    }
}
