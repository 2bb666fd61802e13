using System.Diagnostics;
using KvmSharp.Manager.Domains;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// Runs iproute2's <c>ip</c> and nftables' <c>nft</c>. Why the commands rather than netlink of our own: a network
/// changes a handful of times in its life, so a process start per change costs nothing that matters, while rtnetlink
/// and nf_tables' netlink messages would be hundreds of lines of new binary encoding to get wrong; <c>nft -f</c> also
/// applies a whole table as one transaction (all of it or none). Every failure is a one-line
/// <see cref="ManagerException"/> with the tool's own words.
/// </summary>
internal static class HostCommand
{
    public static string Ip(params string[] args) => Run("ip", args, null);

    /// <summary><c>ip</c> where failing is an answer (a link that is not there): true when it succeeded.</summary>
    public static bool TryIp(params string[] args) => TryRun("ip", args, null, out _);

    /// <summary><c>nft -f -</c> with <paramref name="script"/> on stdin: one transaction.</summary>
    public static void NftScript(string script) => Run("nft", ["-f", "-"], script);

    public static bool TryNft(params string[] args) => TryRun("nft", args, null, out _);

    private static string Run(string program, string[] args, string? stdin)
    {
        if (!TryRun(program, args, stdin, out string output))
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: {program} {string.Join(' ', args)}: {output}");
        return output;
    }

    private static bool TryRun(string program, string[] args, string? stdin, out string output)
    {
        (int ExitCode, string Stdout, string Stderr) result;
        try { result = ToolProcess.Run(Find(program), args, stdin); }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new ManagerException(ManagerError.OperationFailed,
                $"operation failed: cannot run {program} ({e.Message}); install {(program == "nft" ? "nftables" : "iproute2")}");
        }
        output = result.ExitCode == 0 ? result.Stdout : OneLine(result.Stderr.Length > 0 ? result.Stderr : result.Stdout);
        return result.ExitCode == 0;
    }

    /// <summary>/usr/sbin and /sbin are not on every daemon's PATH (a user's shell, systemd's default is).</summary>
    private static string Find(string program)
    {
        foreach (var dir in (string[])["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        {
            string path = Path.Combine(dir, program);
            if (File.Exists(path)) return path;
        }
        return program;
    }

    private static string OneLine(string text)
    {
        string line = string.Join(' ', text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length > 300 ? line[..300] + "…" : line;
    }
}
