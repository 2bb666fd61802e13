namespace KvmSharp.Tests.Kvm;

/// <summary>
/// Integration tests that need /dev/kvm. Where it is missing they fail with a loud message, unless
/// KVMSHARP_ALLOW_NO_KVM=1 says this run knowingly has no KVM: then they are reported as skipped, by name.
/// </summary>
internal static class KvmRequirement
{
    /// <summary>
    /// True where /dev/kvm is kvm_pvm (see shared/docs/host-facts.md): ioctls work, but an unmodified guest is
    /// emulated instruction by instruction and cannot take interrupts or run SSE.
    /// </summary>
    public static bool IsSoftwareBacked => Directory.Exists("/sys/module/kvm_pvm");

    public static void Ensure()
    {
        if (File.Exists("/dev/kvm")) return;
        const string message = "/dev/kvm is missing on this machine: the KVM integration tests cannot run here";
        if (Environment.GetEnvironmentVariable("KVMSHARP_ALLOW_NO_KVM") == "1")
            Assert.Skip(message);
        Assert.Fail(message + " (set KVMSHARP_ALLOW_NO_KVM=1 to report them as skipped instead)");
    }
}
