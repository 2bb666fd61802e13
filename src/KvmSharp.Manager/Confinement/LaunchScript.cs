using System.Globalization;

namespace KvmSharp.Manager.Confinement;

/// <summary>
/// The shell steps that start a VMM, each exec'ing the next so that the pid never changes:
/// <list type="number">
/// <item>as the daemon (root): stdin, stdout and stderr to /dev/null and the log (opened here, so the log needs no
/// chown), then its own pid into the VM's cgroup (every thread the VMM later starts is born in it); then, for its own
/// mount namespace, <c>unshare --mount --propagation private</c> (mount(2) and unshare(2): no mount made inside is
/// seen outside, nor the reverse) running the second step;</item>
/// <item>inside it, still root: an empty tmpfs over each folder to hide; then <c>setsid</c> (a session of its own, so
/// the daemon's end does not end it) and <c>setpriv --reuid --regid --init-groups --no-new-privs</c> (util-linux:
/// setgroups, setgid, setuid, then PR_SET_NO_NEW_PRIVS, in that order) exec the VMM as the VMM user.</item>
/// </list>
/// Values travel in the environment (never spliced into the script), and are unset before the VMM starts.
/// </summary>
public static class LaunchScript
{
    /// <summary>Step 1; $0 is the VMM program and $@ its arguments.</summary>
    public const string Outer = """
        exec </dev/null >>"$KVMSHARP_VMM_LOG" 2>&1
        IFS='
        '
        for f in $KVMSHARP_CGROUP_PROCS; do
          echo $$ >"$f" || { echo "kvmsharpd: cannot place the VMM in its cgroup ($f)"; exit 125; }
        done
        if [ -n "$KVMSHARP_MOUNT_NS" ]; then
          exec unshare --mount --propagation private -- /bin/sh -c "$KVMSHARP_INNER" "$0" "$@"
        fi
        exec /bin/sh -c "$KVMSHARP_INNER" "$0" "$@"
        """;

    /// <summary>Step 2.</summary>
    public const string Inner = """
        IFS='
        '
        for d in $KVMSHARP_HIDE; do
          mount -t tmpfs -o mode=1777,nosuid,nodev,size=16m kvmsharp-hidden "$d" || { echo "kvmsharpd: cannot hide $d from the VMM"; exit 125; }
        done
        IFS=' '
        uid=$KVMSHARP_VMM_UID gid=$KVMSHARP_VMM_GID
        unset KVMSHARP_CGROUP_PROCS KVMSHARP_MOUNT_NS KVMSHARP_HIDE KVMSHARP_INNER KVMSHARP_VMM_UID KVMSHARP_VMM_GID KVMSHARP_VMM_LOG
        if [ -n "$uid" ]; then
          exec setsid setpriv --reuid="$uid" --regid="$gid" --init-groups --no-new-privs -- "$0" "$@"
        fi
        exec setsid "$0" "$@"
        """;

    /// <summary>Puts what the steps need into <paramref name="environment"/>.</summary>
    public static void Describe(VmmConfinement confinement, IDictionary<string, string?> environment)
    {
        environment["KVMSHARP_INNER"] = Inner;
        environment["KVMSHARP_CGROUP_PROCS"] = string.Join('\n', confinement.CgroupProcsFiles);
        environment["KVMSHARP_MOUNT_NS"] = confinement.OwnMountNamespace ? "1" : "";
        environment["KVMSHARP_HIDE"] = confinement.OwnMountNamespace ? string.Join('\n', confinement.HiddenFolders) : "";
        environment["KVMSHARP_VMM_UID"] = confinement.User?.Uid.ToString(CultureInfo.InvariantCulture) ?? "";
        environment["KVMSHARP_VMM_GID"] = confinement.User?.Gid.ToString(CultureInfo.InvariantCulture) ?? "";
        if (confinement.User is not null) environment["HOME"] = "/";   // root's home is not the VMM user's
    }
}
