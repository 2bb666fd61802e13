using System.Diagnostics;
using KvmSharp.Manager.Domains;
using KvmSharp.Native.Libc;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Confinement;

/// <summary>
/// The unprivileged user every VMM of a root daemon runs as (libvirt's qemu.conf <c>user</c>/<c>group</c>): its ids and
/// every group it belongs to. <see cref="ForDaemon"/> creates it on first use, as Debian's libvirt-daemon-system creates
/// <c>libvirt-qemu</c> at install, and gives it /dev/kvm through the <c>kvm</c> group as Debian's udev rule does.
/// </summary>
public sealed record VmmUser(string Name, uint Uid, uint Gid, IReadOnlyList<uint> Groups)
{
    public const string DefaultName = "kvmsharp";
    private const string KvmGroup = "kvm", KvmDevice = "/dev/kvm";
    private static readonly Lock Creating = new();

    /// <summary>
    /// The VMM user of a daemon running as root (created when missing); null for a daemon that is not root, whose VMMs
    /// run as itself (libvirt's session mode: nobody to switch to, nothing to hand over).
    /// </summary>
    /// <exception cref="ManagerException">The user or group cannot be made (one line: the tool's own words).</exception>
    public static VmmUser? ForDaemon(ILogger log, string name = DefaultName)
    {
        if (FileOwner.EffectiveUserId != 0) return null;
        lock (Creating)
        {
            if (!Run("getent", "group", KvmGroup).Ok)
            {
                // Several daemons may start at once (tests do): a loser of the race finds the group made by the winner.
                var made = Run("groupadd", "--system", KvmGroup);
                if (!made.Ok && !Run("getent", "group", KvmGroup).Ok) throw Failed("groupadd", made.Output);
            }
            if (Lookup(name) is null)
            {
                var made = Run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", "--groups", KvmGroup, name);
                if (!made.Ok && Lookup(name) is null) throw Failed("useradd", made.Output);
                log.LogInformation("created the VMM user {Name} (system user, group {Name}, member of {Kvm})", name, name, KvmGroup);
            }
            else if (!Run("id", "-nG", name).Output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(KvmGroup))
            {
                var added = Run("usermod", "--append", "--groups", KvmGroup, name);
                if (!added.Ok) throw Failed("usermod", added.Output);
            }
            OpenKvmToGroup(log);
            OpenTunToAll(log);
            return Lookup(name) ?? throw Failed("getent", $"user {name} not found after creating it");
        }
    }

    /// <summary>
    /// /dev/kvm for the kvm group, only where the group cannot use it yet (a host without Debian's udev rule
    /// <c>KERNEL=="kvm", GROUP="kvm", MODE="0660"</c>): root:kvm 0660, said in the log.
    /// </summary>
    private static void OpenKvmToGroup(ILogger log)
    {
        if (FileOwnership.Of(KvmDevice) is not { } kvm) return;   // no KVM: the software CPU needs no device
        if (((kvm.Mode >> 3) & 6) == 6) return;                    // group read-write already (whatever the group)
        var group = Run("getent", "group", KvmGroup);
        if (!group.Ok || !uint.TryParse(group.Output.Split(':')[2], out uint gid)) throw Failed("getent", $"no group {KvmGroup}");
        FileOwnership.Set(KvmDevice, kvm.Uid, gid);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(KvmDevice, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        log.LogInformation("{Device} was not open to a group: made it root:{Group} 0660, as Debian's udev rule does, so the VMM user reaches it", KvmDevice, KvmGroup);
    }

    /// <summary>
    /// /dev/net/tun for everyone, where it is not (udev's default rule makes it 0666: opening it gives nothing
    /// by itself; a new tap needs CAP_NET_ADMIN, an existing one its owner, which the daemon sets to the VMM user).
    /// </summary>
    private static void OpenTunToAll(ILogger log)
    {
        const string Tun = "/dev/net/tun";
        if (FileOwnership.Of(Tun) is not { } tun || (tun.Mode & 6) == 6) return;
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Tun, (UnixFileMode)0b110_110_110);
        log.LogInformation("{Device} was not open to all: made it 0666, as udev's default rule does, so the VMM user attaches to its taps", Tun);
    }

    /// <summary>The user's ids and groups from the system's databases (NSS through getent and id), or null when there is none.</summary>
    private static VmmUser? Lookup(string name)
    {
        var passwd = Run("getent", "passwd", name);
        if (!passwd.Ok) return null;
        string[] fields = passwd.Output.Split(':');
        if (fields.Length < 4 || !uint.TryParse(fields[2], out uint uid) || !uint.TryParse(fields[3], out uint gid)) return null;
        var groups = Run("id", "-G", name);
        var gids = groups.Output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(g => uint.TryParse(g, out uint n) ? n : gid).Append(gid).Distinct().ToList();
        return new VmmUser(name, uid, gid, gids);
    }

    private static ManagerException Failed(string tool, string output) =>
        new(ManagerError.OperationFailed, $"operation failed: cannot set up the VMM user ({tool}: {output.Trim()})");

    private static (bool Ok, string Output) Run(string program, params string[] args)
    {
        try
        {
            var (exitCode, stdout, stderr) = ToolProcess.Run(program, args);
            return (exitCode == 0, exitCode == 0 ? stdout.Trim() : stderr.Trim());
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (false, $"cannot run {program}: {e.Message}");
        }
    }
}
