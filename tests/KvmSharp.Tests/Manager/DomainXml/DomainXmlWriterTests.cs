using System.Diagnostics;
using KvmSharp.Machine.Config;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

public class DomainXmlWriterTests
{
    /// <summary>Every field away from its default, every device, text that needs escaping.</summary>
    internal static DomainDefinition Full() => DomainXmlReader.Parse(Minimal(
        DiskOn("vdb", "/img/it&apos;s &amp; &lt;data&gt;.qcow2", Slot(9))
        + Disk.Replace("<target", "<readonly/><serial>SN-1.a+b_c d</serial><target", StringComparison.Ordinal)
        + Nic("tap3", "<mac address='52:54:00:01:02:03'/>") + Nic("tap4")
        + "<serial type='pty'/><rng model='virtio'><backend model='random'/></rng>"
        + "<memballoon model='virtio' autodeflate='on'><stats period='10'/></memballoon><vsock><cid address='77'/></vsock>",
        """
        <uuid>0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c</uuid>
        <title>A "small" one</title>
        <description>line one
          line two &amp; a carriage&#13;return</description>
        <currentMemory unit='MiB'>192</currentMemory>
        <vcpu>4</vcpu>
        <features><acpi/><apic/><pae/><vmport state='off'/></features>
        <cpu mode='host-model' check='partial'/>
        <clock offset='utc'/>
        <on_poweroff>preserve</on_poweroff><on_reboot>destroy</on_reboot><on_crash>restart</on_crash>
        <pm><suspend-to-disk enabled='no'/></pm>
        """).Replace("type='kvm'", "type='qemu'", StringComparison.Ordinal)
        .Replace("<kernel>/boot/vmlinuz</kernel>", "<kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd</initrd><cmdline>console=ttyS0 a=\"b c\" &lt;x&gt;</cmdline>", StringComparison.Ordinal)
        .Replace("<type arch='x86_64'>", "<type arch='x86_64' machine='pc-q35-7.2'>", StringComparison.Ordinal));

    [Fact]
    public void Parse_of_format_gives_the_definition_back()
    {
        foreach (var d in (DomainDefinition[])[Full(), DomainXmlReader.Parse(Minimal()), DomainXmlReader.Parse(DocExampleOnTap)])
        {
            string xml = DomainXmlWriter.Format(d);
            Assert.Equal(d, DomainXmlReader.Parse(xml));
            Assert.Equal(xml, DomainXmlWriter.Format(DomainXmlReader.Parse(xml)));
            Assert.Equal(d, DomainXmlReader.Parse(DomainXmlWriter.Format(d, id: 12)));
        }
    }

    [Fact]
    public void The_full_sample_keeps_every_field()
    {
        var d = Full();
        Assert.Equal("A \"small\" one", d.Title);
        Assert.Equal("line one\n  line two & a carriage\rreturn", d.Description);
        Assert.Equal("console=ttyS0 a=\"b c\" <x>", d.Os.Cmdline);
        Assert.Equal("pc-q35-7.2", d.Os.Machine);
        Assert.Equal(DomainType.Qemu, d.Type);
        Assert.Equal((LifecycleAction.Preserve, LifecycleAction.Destroy, LifecycleAction.Restart), (d.OnPoweroff, d.OnReboot, d.OnCrash));
        Assert.Equal(new DomainFeatures(true, true, true, true), d.Features);
        Assert.Equal(new DomainCpu("host-model", "partial"), d.Cpu);
        Assert.Equal("/img/it's & <data>.qcow2", d.Disks[1].Source);
        Assert.Equal((DiskFormat.Raw, true, "SN-1.a+b_c d"), (d.Disks[0].Format, d.Disks[0].ReadOnly, d.Disks[0].Serial));
        Assert.Equal(9, d.Disks[1].Slot);
        Assert.Equal(4, d.VcpuCount);
        Assert.Equal(192UL << 10, d.CurrentMemoryKib);
    }

    [Fact]
    public void The_output_has_what_virsh_reads()
    {
        string xml = DomainXmlWriter.Format(Full(), id: 3);
        Assert.StartsWith("<domain type=\"qemu\" id=\"3\">\n  <name>small</name>\n  <uuid>0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c</uuid>", xml, StringComparison.Ordinal);
        foreach (string part in (string[])[
            "<memory unit=\"KiB\">262144</memory>", "<currentMemory unit=\"KiB\">196608</currentMemory>", "<vcpu placement=\"static\">4</vcpu>",
            "<type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>",
            "<target dev=\"vda\" bus=\"virtio\" />", "<source file=\"/img/a.img\" />",
            "<address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x09\" function=\"0x0\" />",
            "<mac address=\"52:54:00:01:02:03\" />", "<target dev=\"tap3\" managed=\"no\" />", "<model type=\"virtio\" />",
            "<serial type=\"pty\">", "<console type=\"pty\">", "<cid auto=\"no\" address=\"77\" />"])
            Assert.Contains(part, xml, StringComparison.Ordinal);
        Assert.Contains("<memballoon model=\"none\" />", DomainXmlWriter.Format(DomainXmlReader.Parse(Minimal())), StringComparison.Ordinal);
    }

    [Fact]
    public void Virt_xml_validate_accepts_our_output()
    {
        Assert.SkipUnless(File.Exists("/usr/bin/virt-xml-validate") && File.Exists("/usr/share/libvirt/schemas/domain.rng"),
            "virt-xml-validate or libvirt's schemas are not installed");
        foreach (var d in (DomainDefinition[])[Full(), DomainXmlReader.Parse(Minimal())])
            Validate(DomainXmlWriter.Format(d, id: 1), "domain");
    }

    /// <summary>Runs virt-xml-validate on <paramref name="xml"/> against <paramref name="schema"/>; fails with its output when it refuses.</summary>
    internal static void Validate(string xml, string schema)
    {
        string file = Path.Combine(Path.GetTempPath(), $"kvmsharp-{Guid.NewGuid():N}.xml");
        File.WriteAllText(file, xml);
        try
        {
            using var process = Process.Start(new ProcessStartInfo("/usr/bin/virt-xml-validate", [file, schema])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(60_000), "virt-xml-validate did not finish");
            Assert.True(process.ExitCode == 0, $"virt-xml-validate {schema}: {output}\n{xml}");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
