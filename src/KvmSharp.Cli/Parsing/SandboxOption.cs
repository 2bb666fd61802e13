using System.CommandLine;
using KvmSharp.Machine.Sandbox;

namespace KvmSharp.Cli.Parsing;

/// <summary>`--sandbox on|off` and `--seccomp kill|log`: how `kvmsharp run` confines its own process (Machine/Sandbox).</summary>
internal static class SandboxOption
{
    public static (Option<string> Sandbox, Option<string> Seccomp) Create()
    {
        var sandbox = new Option<string>("--sandbox")
        {
            HelpName = "on|off",
            Description = "Confine the VMM before the guest runs: no_new_privs, a seccomp allow-list of system calls, and Landlock limiting files to the machine's own (default on)",
            DefaultValueFactory = _ => "on",
        };
        sandbox.AcceptOnlyFromAmong("on", "off");
        var seccomp = new Option<string>("--seccomp")
        {
            HelpName = "kill|log",
            Description = "A system call outside the sandbox's list: kill ends the VMM naming the call (default); log lets it through and the kernel logs it (dmesg, audit)",
            DefaultValueFactory = _ => "kill",
        };
        seccomp.AcceptOnlyFromAmong("kill", "log");
        return (sandbox, seccomp);
    }

    public static SandboxOptions Read(ParseResult result, Option<string> sandbox, Option<string> seccomp, string? apiSocket) => new(
        Enabled: result.GetValue(sandbox) != "off",
        Seccomp: result.GetValue(seccomp) == "log" ? SeccompMode.Log : SeccompMode.Kill,
        ApiSocket: apiSocket is null ? null : Path.GetFullPath(apiSocket));
}
