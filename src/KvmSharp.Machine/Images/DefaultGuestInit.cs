using System.Text;

namespace KvmSharp.Machine.Images;

/// <summary>
/// Writes the default guest's /init: a busybox shell script that the kernel runs as process 1 from
/// the initramfs. It mounts /proc, /sys and /dev, loads the virtio modules in dependency order, asks for
/// a DHCP lease on each NIC (<see cref="DefaultGuestDhcp"/>), then either runs the command passed on the kernel command line (<see cref="DefaultGuestCommandLine"/>)
/// and powers off, or gives the console a shell.
/// </summary>
public static class DefaultGuestInit
{
    /// <param name="modulePaths">Module files inside the initramfs, in load order.</param>
    public static string Build(IEnumerable<string> modulePaths)
    {
        var script = new StringBuilder();
        script.Append("""
            #!/bin/sh
            # /init of KvmSharp's default guest, written by KvmSharp.Machine.Images.DefaultGuestInit.
            export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=linux
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            mkdir -p /dev/pts
            mount -t devpts devpts /dev/pts
            hostname kvmsharp
            # As on a PC: Ctrl-Alt-Delete (the kernel sends init SIGINT) reboots, the ACPI power button
            # (busybox acpid runs /etc/acpi/PWRF/00000080) powers off after a sync. The traps run while
            # init waits for its child below, which is why the child runs in the background.
            echo 0 >/proc/sys/kernel/ctrl-alt-del   # signal init instead of an immediate restart without a sync
            trap 'sync; reboot -f' INT
            mkdir -p /etc/acpi/PWRF
            printf '#!/bin/sh\nsync\npoweroff -f\n' >/etc/acpi/PWRF/00000080
            chmod 755 /etc/acpi/PWRF/00000080
            # insmod resolves nothing itself: the list is already in dependency order.

            """);
        foreach (var path in modulePaths)
            script.Append($"insmod /{path} || echo \"init: could not load {Path.GetFileName(path)}\" >&2\n");
        script.Append($$"""

            # Our parameter is base64 (no spaces, no shell metacharacters); the kernel ignores dotted
            # parameters it does not know, so it is read back from /proc/cmdline.
            set -f
            command=
            for word in $(cat /proc/cmdline); do
                case "$word" in
                    {{DefaultGuestCommandLine.ExecParameter}}=*) command="$(echo "${word#{{DefaultGuestCommandLine.ExecParameter}}=}" | base64 -d)" ;;
                esac
            done
            set +f

            # After the modules: the power button and its event device exist now.
            mkdir -p /var/log   # acpid's log; without it acpid exits at once
            acpid -c /etc/acpi

            {{DefaultGuestDhcp.InitFragment}}
            if [ -n "$command" ]; then
                # Closing our own console descriptors leaves the command's as the last ones open on
                # the console, and the kernel waits at a tty's last close until its output has left the
                # UART (tty_port_close_start), so nothing the command printed is lost at power-off.
                # -onlcr: the command's bytes reach the host as written, "\n" without "\r".
                exec </dev/null >/dev/null 2>&1
                { stty -onlcr; sh -c "$command" </dev/null; } 0<>/dev/{{DefaultGuestCommandLine.ConsoleDevice}} 1>&0 2>&0 &
                wait $!
                echo "{{ExecStatusChannel.LinePrefix}}$?" >/dev/{{DefaultGuestCommandLine.StatusDevice}}
                poweroff -f
            fi

            echo "KvmSharp default guest (Linux $(uname -r), busybox). 'exit' powers off; Ctrl-A x quits kvmsharp."
            export PS1='\h:\w\$ '
            setsid cttyhack sh </dev/console >/dev/console 2>&1 &
            wait $!
            poweroff -f

            """);
        return script.ToString();
    }
}
