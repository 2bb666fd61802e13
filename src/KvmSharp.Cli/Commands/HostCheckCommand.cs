using System.CommandLine;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Native.Kvm;

namespace KvmSharp.Cli.Commands;

/// <summary><c>kvmsharp host-check</c>: what this host offers a VMM, like virt-host-validate and kvm-ok.</summary>
internal static class HostCheckCommand
{
    public static Command Create()
    {
        var command = new Command("host-check", "Check what this host offers: /dev/kvm, its capabilities and whether it is hardware-accelerated");
        command.SetAction(_ => Check());
        return command;
    }

    private static int Check()
    {
        string cpuFlags = File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
        bool vmx = cpuFlags.Contains(" vmx"), svm = cpuFlags.Contains(" svm");
        Report(vmx || svm, "CPU virtualization extensions", vmx ? "Intel VT-x (vmx)" : svm ? "AMD-V (svm)" : "none in /proc/cpuinfo");
        bool pvm = Directory.Exists("/sys/module/kvm_pvm");
        if (pvm) Report(false, "KVM implementation", "kvm_pvm (software-backed: guests run instruction by instruction)");
        Report(File.Exists(KvmSystem.DevicePath), KvmSystem.DevicePath, File.Exists(KvmSystem.DevicePath) ? "present" : "missing");

        int failures = 0;
        try
        {
            using var kvm = KvmSystem.Open();
            Report(true, "KVM API version", kvm.ApiVersion.ToString());
            foreach (var (name, cap) in new[]
                     {
                         ("in-kernel irqchip", KvmCapability.Irqchip), ("PIT2", KvmCapability.Pit2),
                         ("immediate_exit", KvmCapability.ImmediateExit), ("user memory", KvmCapability.UserMemory),
                     })
            {
                bool ok = kvm.CheckExtension(cap) > 0;
                if (!ok) failures++;
                Report(ok, name, ok ? "yes" : "no");
            }
            Report(true, "max vCPUs", kvm.CheckExtension(KvmCapability.MaxVcpus).ToString());
        }
        catch (Accelerators.AcceleratorException e)
        {
            Report(false, "KVM", e.Message);
            failures++;
        }

        var probe = KvmProbe.Run();
        Report(probe.Usable, "KVM speed probe", probe.Summary);
        Console.WriteLine(probe.Usable
            ? "verdict: KVM is usable; `kvmsharp run` uses it (--accel auto)"
            : "verdict: KVM is not usable for real guests here; --accel auto uses the software CPU");
        return failures == 0 ? 0 : 1;
    }

    private static void Report(bool ok, string what, string detail) =>
        Console.WriteLine($"  {(ok ? "PASS" : "WARN")}  {what,-32} {detail}");
}
