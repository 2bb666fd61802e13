using System.Security;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>The default guest (Debian's kernel, our busybox initramfs, a shell on ttyS0) as libvirt domain XML, with a disk (raw or qcow2).</summary>
internal static class DefaultGuestDomain
{
    /// <summary>type='qemu': the software CPU, which every host we test on has.</summary>
    public static string Xml(DebianKernelFixture guest, string name, string disk, string format = "raw") => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
            <kernel>{SecurityElement.Escape(guest.Guest.KernelPath)}</kernel>
            <initrd>{SecurityElement.Escape(guest.Guest.InitrdPath)}</initrd>
            <cmdline>{SecurityElement.Escape(DefaultGuestCommandLine.Shell())}</cmdline>
          </os>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>destroy</on_crash>
          {Devices(disk, format)}
        </domain>
        """;

    /// <summary>
    /// A domain that SeaBIOS boots from <paramref name="bootDisk"/>, the second disk (vdb), by its &lt;boot order='1'/&gt;;
    /// vda is <paramref name="dataDisk"/>, which SeaBIOS would try first without an order.
    /// </summary>
    public static string OrderedFirmwareXml(string name, string bootDisk, string dataDisk) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64' machine='pc'>hvm</type>
          </os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{SecurityElement.Escape(dataDisk)}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='{SecurityElement.Escape(bootDisk)}'/>
              <target dev='vdb' bus='virtio'/>
              <boot order='1'/>
            </disk>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;

    /// <summary>A domain that OVMF boots from its disk: libvirt's automatic UEFI selection, the variable store left to the daemon.</summary>
    public static string UefiXml(string name, string disk) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os firmware='efi'>
            <type arch='x86_64' machine='pc'>hvm</type>
            <boot dev='hd'/>
          </os>
          {Devices(disk, "raw")}
        </domain>
        """;

    /// <summary>One virtio disk as vda and a pty serial console: what both domains above have.</summary>
    private static string Devices(string disk, string format) => $"""
        <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='{format}'/>
              <source file='{SecurityElement.Escape(disk)}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        """;
}
