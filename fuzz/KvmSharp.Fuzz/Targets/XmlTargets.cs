using System.Text;
using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Manager.Networks;
using KvmSharp.Manager.Storage;

namespace KvmSharp.Fuzz.Targets;

/// <summary>The XML a client sends (virsh define, net-define, pool-define, vol-create, snapshot-create). Expected: ManagerException.</summary>
public abstract class XmlTarget : FuzzTarget
{
    public override bool IsExpected(Exception exception) => exception is ManagerException;

    public override void Run(ReadOnlySpan<byte> input) => Parse(Encoding.UTF8.GetString(input));

    protected abstract void Parse(string xml);

    protected static FuzzSeed Text(string name, string xml) => new(name, Encoding.UTF8.GetBytes(xml));

    /// <summary>What the writer promises: reading its output gives the same definition back.</summary>
    protected static void SameAfterRoundTrip<T>(T first, T second, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(first, second))
            throw new FuzzFinding($"{what} differs after a write and read back");
    }
}

public sealed class DomainXmlTarget : XmlTarget
{
    public override string Name => "domain-xml";
    public override string Description => "domain XML: read, write, read again, to a MachineConfig (Manager/DomainXml)";

    protected override void Parse(string xml)
    {
        var definition = DomainXmlReader.Parse(xml);
        SameAfterRoundTrip(definition, DomainXmlReader.Parse(DomainXmlWriter.Format(definition)), "the domain definition");
        MachineConfig config;
        try
        {
            config = definition.ToMachineConfig("/run/kvmsharp/fuzz.console", "/run/kvmsharp/fuzz.vsock");
        }
        catch (MachineConfigException)
        {
            return;   // a definition the machine layer refuses, with its reason
        }
        config.Normalize().Validate();
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Text("minimal", "<domain type='kvm'><name>a</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>");
        yield return Text("devices", """
            <domain type='kvm'>
              <name>web</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
              <memory unit='KiB'>524288</memory><currentMemory unit='KiB'>524288</currentMemory><vcpu placement='static'>2</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd.img</initrd><cmdline>console=ttyS0</cmdline></os>
              <features><acpi/><apic/></features>
              <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
              <devices>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/images/web.qcow2'/><target dev='vda' bus='virtio'/><serial>web0</serial></disk>
                <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/lib/images/data.raw'/><target dev='vdb' bus='virtio'/><readonly/></disk>
                <interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/><model type='virtio'/></interface>
                <interface type='user'><backend type='passt'/><portForward proto='tcp'><range start='2222' to='22'/></portForward><model type='virtio'/></interface>
                <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/srv/share'/><target dir='share'/></filesystem>
                <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
                <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
                <memballoon model='virtio'/>
                <vsock model='virtio'><cid auto='no' address='3'/></vsock>
              </devices>
            </domain>
            """);
    }
}

public sealed class SnapshotXmlTarget : XmlTarget
{
    public override string Name => "snapshot-xml";
    public override string Description => "domainsnapshot XML of snapshot-create and our stored metadata (Manager/DomainXml SnapshotXml)";

    /// <summary>The same bytes as a client's request and as our stored metadata; refused only when both refuse.</summary>
    protected override void Parse(string xml)
    {
        ManagerException? refused = null;
        bool taken = false;
        try { SnapshotXml.ParseRequest(xml, DateTimeOffset.UnixEpoch); taken = true; }
        catch (ManagerException e) { refused = e; }
        try { SnapshotXml.ParseMetadata(xml); taken = true; }
        catch (ManagerException e) { refused = e; }
        if (!taken && refused is not null) throw refused;
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Text("request", "<domainsnapshot><name>s1</name><description>before upgrade</description><memory snapshot='no'/><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>");
    }
}

public sealed class NetworkXmlTarget : XmlTarget
{
    public override string Name => "network-xml";
    public override string Description => "network XML: read, write, read again (Manager/Networks NetworkXmlReader/Writer)";

    protected override void Parse(string xml)
    {
        var definition = NetworkXmlReader.Parse(xml);
        SameAfterRoundTrip(NetworkXmlReader.Normalize(definition), NetworkXmlReader.Normalize(NetworkXmlReader.Parse(NetworkXmlWriter.Format(definition))), "the network definition");
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Text("nat", """
            <network><name>default</name><uuid>9a05da11-e96b-47f3-8253-a3a482e445f5</uuid><forward mode='nat'/>
              <bridge name='virbr0' stp='on' delay='0'/><mac address='52:54:00:0a:cd:21'/>
              <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/>
              <host mac='52:54:00:12:34:56' name='web' ip='192.168.122.10'/></dhcp></ip></network>
            """);
        yield return Text("isolated", "<network><name>iso</name><bridge name='kvs1'/><ip address='10.0.5.1' prefix='24'/></network>");
    }
}

public sealed class PoolXmlTarget : XmlTarget
{
    public override string Name => "pool-xml";
    public override string Description => "storage pool XML of pool-define (Manager/Storage PoolXml)";

    protected override void Parse(string xml)
    {
        var pool = PoolXml.Parse(xml);
        SameAfterRoundTrip(pool, PoolXml.Parse(PoolXml.Format(pool, null)), "the pool definition");
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Text("dir", "<pool type='dir'><name>images</name><uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid><target><path>/var/lib/kvmsharp/images</path><permissions><mode>0711</mode></permissions></target></pool>");
    }
}

public sealed class VolumeXmlTarget : XmlTarget
{
    public override string Name => "volume-xml";
    public override string Description => "storage volume XML of vol-create (Manager/Storage VolumeXml)";

    protected override void Parse(string xml) => VolumeXml.Parse(xml);

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Text("qcow2", "<volume><name>web.qcow2</name><capacity unit='G'>10</capacity><allocation>0</allocation><target><format type='qcow2'/></target></volume>");
        yield return Text("backing", "<volume><name>o.qcow2</name><capacity unit='MiB'>64</capacity><target><format type='qcow2'/></target><backingStore><path>/var/lib/kvmsharp/images/base.qcow2</path><format type='qcow2'/></backingStore></volume>");
    }
}
