using System.Diagnostics;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>
/// Our XML against libvirt's own parser: python3-libvirt's in-process test driver (test:///default) defines the
/// domain as libvirtd would and prints its normalized XML, which we must read back to the same definition.
/// </summary>
public class LibvirtParserTests
{
    private const string Python = "/usr/bin/python3";

    private const string DefineAndDump = """
        import sys, libvirt
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        try:
            conn = libvirt.open('test:///default')
            sys.stdout.write(conn.defineXML(sys.stdin.read()).XMLDesc(0))
        except libvirt.libvirtError as e:
            sys.stdout.write('ERROR ' + str(e))
            sys.exit(1)
        """;

    [Fact]
    public void Libvirt_defines_our_output_and_its_dumpxml_reads_back_the_same()
    {
        Assert.SkipUnless(File.Exists(Python) && Run("-c", "import libvirt").Code == 0, "python3-libvirt is not installed");
        // libvirt's test driver keeps no carriage return in a description; the rest of the full sample stays.
        foreach (var d in (DomainDefinition[])[DomainXmlWriterTests.Full() with { Description = "plain" }, DomainXmlReader.Parse(Minimal()), DomainXmlReader.Parse(DocExampleOnTap)])
        {
            var (code, output) = Run("-c", DefineAndDump, DomainXmlWriter.Format(d));
            Assert.True(code == 0, output);
            // libvirt adds the BIOS boot order it would use without a kernel; with <kernel> it means nothing, and we refuse it.
            Assert.Contains("<boot dev='hd'/>", output, StringComparison.Ordinal);
            Assert.Equal(d, DomainXmlReader.Parse(output.Replace("<boot dev='hd'/>", "", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void Libvirt_takes_our_per_device_boot_orders_and_refuses_a_mix_with_os_boot_in_the_words_we_use()
    {
        Assert.SkipUnless(File.Exists(Python) && Run("-c", "import libvirt").Code == 0, "python3-libvirt is not installed");
        string xml = Minimal(DiskOn("vda", "/img/data.img", "<boot order='2'/>") + DiskOn("vdb", "/img/system.img", "<boot order='1'/>"))
            .Replace("<kernel>/boot/vmlinuz</kernel>", "", StringComparison.Ordinal);
        var d = DomainXmlReader.Parse(xml);
        var (code, output) = Run("-c", DefineAndDump, DomainXmlWriter.Format(d));
        Assert.True(code == 0, output);
        Assert.DoesNotContain("<boot dev=", output, StringComparison.Ordinal);
        Assert.Equal(d, DomainXmlReader.Parse(output));

        string mixed = xml.Replace("<type arch='x86_64'>hvm</type>", "<type arch='x86_64'>hvm</type><boot dev='hd'/>", StringComparison.Ordinal);
        var (refused, message) = Run("-c", DefineAndDump, mixed);
        Assert.NotEqual(0, refused);
        Assert.Contains(DomainBootXml.MixedStyles, message, StringComparison.Ordinal);
        var ours = Assert.Throws<KvmSharp.Manager.Domains.ManagerException>(() => DomainXmlReader.Parse(mixed));
        Assert.Contains(DomainBootXml.MixedStyles, ours.Message, StringComparison.Ordinal);
    }

    private static (int Code, string Output) Run(string flag, string script, string input = "")
    {
        using var process = Process.Start(new ProcessStartInfo(Python, [flag, script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.StandardInput.Write(input);
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "python3 did not finish");
        return (process.ExitCode, output + error.Result);
    }
}
