namespace KvmSharp.Tests.Kvm;

/// <summary>
/// Tests that need KVM itself (not just "a CPU": those run on the software CPU). Our machines may have no
/// /dev/kvm at all, or a software-backed one (kvm_pvm): where it is missing these tests are reported as
/// skipped, with the reason, and the runner's closing line counts them. KVMSHARP_REQUIRE_KVM=1 makes a
/// missing /dev/kvm a failure instead, for hosts that are meant to have one.
/// </summary>
internal static class KvmRequirement
{
    /// <summary>
    /// True where /dev/kvm is kvm_pvm (see shared/docs/host-facts.md): ioctls work, but an unmodified guest is
    /// emulated instruction by instruction and cannot take interrupts or run SSE.
    /// </summary>
    public static bool IsSoftwareBacked => Directory.Exists("/sys/module/kvm_pvm");

    public static bool IsAvailable => File.Exists("/dev/kvm");

    public static void Ensure()
    {
        if (IsAvailable) return;
        const string message = "needs KVM, and /dev/kvm is missing on this machine";
        if (Environment.GetEnvironmentVariable("KVMSHARP_REQUIRE_KVM") == "1")
            Assert.Fail(message + " (KVMSHARP_REQUIRE_KVM=1 says it should be there)");
        Assert.Skip(message);
    }

    /// <summary>Runs on KVM or the software CPU: only "kvm" needs /dev/kvm.</summary>
    public static void EnsureFor(string accelerator)
    {
        if (accelerator == "kvm") Ensure();
    }
}
