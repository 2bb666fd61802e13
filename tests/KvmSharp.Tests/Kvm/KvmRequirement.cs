namespace KvmSharp.Tests.Kvm;

/// <summary>
/// Integration tests that need /dev/kvm. Where it is missing they fail with a loud message, unless
/// KVMSHARP_ALLOW_NO_KVM=1 says this run knowingly has no KVM: then they are reported as skipped, by name.
/// </summary>
internal static class KvmRequirement
{
    public static void Ensure()
    {
        if (File.Exists("/dev/kvm")) return;
        const string message = "/dev/kvm is missing on this machine: the KVM integration tests cannot run here";
        if (Environment.GetEnvironmentVariable("KVMSHARP_ALLOW_NO_KVM") == "1")
            Assert.Skip(message);
        Assert.Fail(message + " (set KVMSHARP_ALLOW_NO_KVM=1 to report them as skipped instead)");
    }
}
