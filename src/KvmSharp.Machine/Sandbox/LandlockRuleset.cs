using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Sandbox;
using static KvmSharp.Native.Sandbox.LandlockConstants;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// Restricts the calling process's filesystem access to a set of paths with Landlock (kernel
/// Documentation/userspace-api/landlock.rst): a ruleset that handles every right the kernel's ABI knows, one
/// path-beneath rule per allowed path, then landlock_restrict_self. Landlock (ABI ≤ 7) confines the calling thread and
/// the threads it creates afterwards; <see cref="VmmSandbox"/> says which threads join. Network rights and scopes stay unhandled:
/// migration may connect anywhere the user names.
/// </summary>
public static unsafe class LandlockRuleset
{
    /// <summary>The kernel's Landlock ABI version, 0 when the kernel has no Landlock (or it is disabled at boot).</summary>
    public static int AbiVersion()
    {
        int version = SandboxImports.LandlockCreateRuleset(null, 0, LANDLOCK_CREATE_RULESET_VERSION);
        return version < 0 ? 0 : version;
    }

    /// <summary>
    /// A ruleset of <paramref name="rules"/>, handling every right ABI <paramref name="abi"/> knows. A path that does
    /// not exist is skipped (a rule needs an inode; what is missing now can only appear beneath an allowed folder).
    /// </summary>
    public static FileDescriptor Create(int abi, IEnumerable<LandlockRule> rules)
    {
        ulong handled = HandledFor(abi);
        var attr = new LandlockRulesetAttr { HandledAccessFs = handled };
        var ruleset = new FileDescriptor(SandboxImports.LandlockCreateRuleset(&attr, (nuint)sizeof(LandlockRulesetAttr), 0));
        if (ruleset.IsInvalid) throw new NativeException("landlock_create_ruleset", Marshal.GetLastPInvokeError());
        try
        {
            foreach (var rule in rules) Add(ruleset, handled, rule);
        }
        catch
        {
            ruleset.Dispose();
            throw;
        }
        return ruleset;
    }

    /// <summary>Confines the calling thread (and the threads it creates from now on) to <paramref name="ruleset"/>.</summary>
    public static void RestrictCurrentThread(FileDescriptor ruleset)
    {
        using var held = new HandleLease(ruleset);
        if (SandboxImports.LandlockRestrictSelf(held.Number) != 0)
            throw new NativeException("landlock_restrict_self", Marshal.GetLastPInvokeError());
    }

    private static void Add(FileDescriptor ruleset, ulong handled, LandlockRule rule)
    {
        using var path = new FileDescriptor(LibcImports.Open(rule.Path, FsConstants.O_PATH | LibcConstants.O_CLOEXEC, 0));
        if (path.IsInvalid) return;
        // A file takes only file rights; a folder's rule covers what lies beneath it.
        bool folder = Directory.Exists(rule.Path);
        using var parent = new HandleLease(path);
        using var held = new HandleLease(ruleset);
        var beneath = new LandlockPathBeneathAttr
        {
            AllowedAccess = rule.Access & handled & (folder ? ulong.MaxValue : FileRights),
            ParentFd = parent.Number,
        };
        if (beneath.AllowedAccess == 0) return;
        if (SandboxImports.LandlockAddPathRule(held.Number, &beneath) != 0)
            throw new NativeException($"landlock_add_rule for {rule.Path}", Marshal.GetLastPInvokeError());
    }
}

/// <summary>One allowed path and the Landlock rights (<see cref="LandlockConstants"/>) on it, or beneath it for a folder.</summary>
public sealed record LandlockRule(string Path, ulong Access);
