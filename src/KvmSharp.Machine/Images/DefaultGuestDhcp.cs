namespace KvmSharp.Machine.Images;

/// <summary>
/// DHCP in the default guest: busybox's <c>udhcpc</c> asks for a lease on every ethN at boot, and runs
/// <see cref="Script"/> (installed at <see cref="ScriptPath"/>, busybox's default place for it) at each
/// event, which configures the interface from the lease. With <c>--net user</c> passt answers at once;
/// on a tap without a DHCP server the boot waits at most <see cref="DiscoverTries"/> ×
/// <see cref="SecondsBetweenTries"/> seconds, then udhcpc goes on trying in the background (<c>-b</c>).
/// </summary>
public static class DefaultGuestDhcp
{
    /// <summary>Inside the initramfs, without the leading '/'.</summary>
    public const string ScriptPath = "etc/udhcpc/default.script";

    /// <summary>DHCPDISCOVERs sent before /init goes on without a lease (udhcpc -t).</summary>
    public const int DiscoverTries = 3;

    /// <summary>Seconds between them (udhcpc -T): the bound on the boot's wait is their product.</summary>
    public const int SecondsBetweenTries = 1;

    /// <summary>
    /// The part of /init that brings the NICs up: loopback, then one udhcpc per ethN, all at once, each
    /// returning when it has a lease or has sent its discovers (then it forks into the background and
    /// keeps trying). /init waits for all of them, so an --exec command starts with its addresses, or
    /// after the bounded wait when nobody answers. udhcpc's own messages go to /var/log/udhcpc.IFACE.
    /// </summary>
    public static string InitFragment => $$"""
        # Networking: loopback, and DHCP on every ethN (KvmSharp.Machine.Images.DefaultGuestDhcp).
        ip link set lo up
        for nic in /sys/class/net/eth*; do
            [ -e "$nic" ] || continue
            nic="${nic##*/}"
            ip link set "$nic" up
            udhcpc -b -t {{DiscoverTries}} -T {{SecondsBetweenTries}} -i "$nic" -s /{{ScriptPath}} >"/var/log/udhcpc.$nic" 2>&1 &
        done
        wait

        """;

    /// <summary>
    /// busybox udhcpc's hook: $1 is the event, the lease is in the environment (interface, ip, subnet,
    /// mask, router, dns, domain, mtu, broadcast; busybox networking/udhcp/dhcpc.c). RFC 2131 §4.4.5: a
    /// renewed lease may keep its address, so an address already there is left alone (its connections live on).
    /// </summary>
    public const string Script = """
        #!/bin/sh
        # udhcpc's hook in KvmSharp's default guest, written by KvmSharp.Machine.Images.DefaultGuestDhcp.
        case "$1" in
            deconfig)
                ip -4 addr flush dev "$interface"
                ip link set "$interface" up
                ;;
            bound|renew)
                [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
                prefix="${mask:-24}"
                if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/$prefix "; then
                    ip -4 addr flush dev "$interface"
                    ip addr add "$ip/$prefix" ${broadcast:+broadcast "$broadcast"} dev "$interface"
                fi
                # The first NIC with a lease gives the default route and the name servers.
                if [ -n "$router" ] && ! ip -4 route show default | grep -q .; then
                    for gateway in $router; do
                        ip route add default via "$gateway" dev "$interface" && break
                    done
                fi
                if [ -n "$dns" ] && ! grep -q '^nameserver' /etc/resolv.conf 2>/dev/null; then
                    {
                        [ -n "$domain" ] && echo "search $domain"
                        for server in $dns; do echo "nameserver $server"; done
                    } >/etc/resolv.conf
                fi
                echo "udhcpc: $interface $ip/$prefix router ${router:-none} dns ${dns:-none}"
                ;;
        esac
        exit 0

        """;
}
