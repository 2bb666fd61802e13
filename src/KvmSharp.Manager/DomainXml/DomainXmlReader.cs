using System.Text.RegularExpressions;
using System.Xml.Linq;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Reads libvirt domain XML (formatdomain) into a <see cref="DomainDefinition"/>: the subset KvmSharp runs, everything
/// else refused with one message naming the element or attribute (<see cref="Domains.ManagerError.ConfigUnsupported"/>),
/// malformed documents and bad values refused as <see cref="Domains.ManagerError.XmlError"/>. Nothing is dropped silently.
/// </summary>
public static partial class DomainXmlReader
{
    /// <summary>The definition in <paramref name="xml"/>, validated and normalized (see <see cref="DomainNormalizer"/>).</summary>
    public static DomainDefinition Parse(string xml) => DomainNormalizer.Normalize(Read(SafeXml.LoadRoot(xml, "domain")));

    /// <summary>A &lt;domain&gt; element as written, not yet normalized (a snapshot's stored form holds one).</summary>
    internal static DomainDefinition Read(XElement root)
    {
        var e = new ElementReader(root);
        var type = e.RequiredAttribute("type") switch
        {
            "kvm" => DomainType.Kvm,
            "qemu" => DomainType.Qemu,
            var other => throw DomainXmlError.Unsupported($"domain type '{DomainXmlError.Quote(other)}' is not supported (only 'kvm' and 'qemu')"),
        };
        // A running domain's dumpxml carries its id; defining from that file is common, and the id is state, not config.
        if (e.Attribute("id") is { } id && id != "-1" && XmlValues.ParseUnsigned(id) is null)
            throw DomainXmlError.Xml($"the id '{DomainXmlError.Quote(id)}' of <domain> is not a number");

        e.RefuseOtherChildren("name", "uuid", "title", "description", "memory", "currentMemory", "memtune", "vcpu", "cputune", "os", "features", "cpu", "clock",
            "pm", "on_poweroff", "on_reboot", "on_crash", "devices");
        string name = XmlValues.Name(e.RequiredChild("name", "a domain needs a name"), "domain");
        var memory = e.RequiredChild("memory", "say how much RAM the guest has");
        ulong memoryKib = XmlValues.ScaledKib(memory);
        memory.Finish();
        var current = e.Child("currentMemory");
        ulong currentKib = current is null ? 0 : XmlValues.ScaledKib(current);
        current?.Finish();

        var definition = new DomainDefinition
        {
            Name = name,
            Uuid = e.Child("uuid") is { } uuid ? ReadUuid(uuid) : Guid.Empty,
            Title = e.Child("title") is { } title ? ReadTitle(title) : null,
            Description = e.Child("description") is { } description ? FinishText(description) : null,
            Type = type,
            MemoryKib = memoryKib,
            CurrentMemoryKib = currentKib,
            VcpuCount = e.Child("vcpu") is { } vcpu ? ReadVcpu(vcpu) : 1,
            MemoryTune = DomainTuningXml.ReadMemoryTune(e.Child("memtune")),
            CpuTune = DomainTuningXml.ReadCpuTune(e.Child("cputune")),
            Os = ReadOs(e.Child("os") ?? throw DomainXmlError.Unsupported(
                "a domain without <os> is not supported: KvmSharp boots a kernel directly (<os><type>hvm</type><kernel>…</kernel></os>)")),
            Features = e.Child("features") is { } features ? ReadFeatures(features) : DomainFeatures.None,
            Cpu = e.Child("cpu") is { } cpu ? ReadCpu(cpu) : null,
            SuspendDisabled = e.Child("pm") is { } pm && ReadPm(pm),
            OnPoweroff = e.Child("on_poweroff") is { } poweroff ? ReadAction(poweroff) : LifecycleAction.Destroy,
            OnReboot = e.Child("on_reboot") is { } reboot ? ReadAction(reboot) : LifecycleAction.Restart,
            OnCrash = e.Child("on_crash") is { } crash ? ReadAction(crash) : LifecycleAction.Destroy,
        };
        if (e.Child("clock") is { } clock) ReadClock(clock);
        if (e.Child("devices") is { } devices) definition = DomainDeviceReader.Read(devices, definition);
        e.Finish();
        return WithBootChecked(definition);
    }

    /// <summary>
    /// The boot rules that need the devices (<see cref="DomainBootXml.Check"/>); what boots when the XML says nothing is
    /// settled here too: as libvirt adds &lt;boot dev='hd'/&gt; when neither style is used, without a kernel the firmware
    /// boots the first disk.
    /// </summary>
    private static DomainDefinition WithBootChecked(DomainDefinition d)
    {
        bool osBootGiven = d.Os.BootsDisk;
        DomainBootXml.Check(d, osBootGiven);
        bool deviceOrder = d.Disks.Any(disk => disk.BootOrder is not null);
        if (d.Os.Kernel is null && !osBootGiven && d.Os.Loader is null && !deviceOrder)
            throw DomainXmlError.Unsupported("an <os> with neither <kernel> nor <boot dev='hd'/> is not supported: say what boots (or give a disk <boot order='1'/>)");
        return d with { Os = d.Os with { BootsDisk = osBootGiven || (d.Os.Kernel is null && !deviceOrder) } };
    }

    private static Guid ReadUuid(ElementReader e)
    {
        string text = e.TrimmedText();
        e.Finish();
        if (!Guid.TryParseExact(text, "D", out var uuid) && !Guid.TryParseExact(text, "N", out uuid))
            throw DomainXmlError.Xml($"<uuid> '{DomainXmlError.Quote(text)}' is not a UUID like 0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c");
        if (uuid == Guid.Empty) throw DomainXmlError.Xml("<uuid> cannot be all zeros");
        return uuid;
    }

    private static string ReadTitle(ElementReader e)
    {
        string title = FinishText(e);
        if (title.Contains('\n') || title.Contains('\r')) throw DomainXmlError.Xml("<title> must be one line");
        return title;
    }

    private static string FinishText(ElementReader e)
    {
        string text = e.Text();
        e.Finish();
        return text;
    }

    private static int ReadVcpu(ElementReader e)
    {
        XmlValues.Choice(e, "placement", "static", "static");
        ulong count = XmlValues.UnsignedText(e);
        e.Finish();
        // Validation says the range; this only keeps the number in an int.
        return (int)Math.Min(count, int.MaxValue);
    }

    private static DomainOs ReadOs(ElementReader os)
    {
        var type = os.RequiredChild("type", "give <type>hvm</type>");
        string osType = type.TrimmedText();
        if (osType != "hvm") throw DomainXmlError.Unsupported($"os type '{DomainXmlError.Quote(osType)}' is not supported (only 'hvm')");
        XmlValues.Choice(type, "arch", "x86_64", "x86_64");
        string machine = type.Attribute("machine") ?? "pc";
        if (!MachineType().IsMatch(machine))
            throw DomainXmlError.Unsupported($"machine '{DomainXmlError.Quote(machine)}' is not supported (pc, q35, pc-i440fx-…, pc-q35-…)");
        type.Finish();

        // <loader> and <boot> mean firmware; <kernel> is loaded directly (libvirt hands it to the firmware, which
        // loads it the same way). <boot> repeats in order of preference; 'hd' is the only device we boot (DomainBootXml).
        // firmware='efi' (libvirt's automatic firmware selection) or a pflash <loader> mean UEFI.
        bool uefi = XmlValues.OptionalChoice(os, "firmware", "bios", "efi") == "efi";
        var (loader, pflash) = os.Child("loader") is { } l ? ReadLoader(l) : (null, false);
        uefi |= pflash;
        bool bootsDisk = false;
        foreach (var child in os.ChildElements.Where(c => c.Name == "boot").ToList())
        {
            DomainBootXml.ReadOsBoot(os.Take(child));
            bootsDisk = true;
        }
        string? nvramPath = null, nvramTemplate = null;
        if (os.Child("nvram") is { } nvram)
        {
            if (!uefi) throw DomainXmlError.Unsupported($"{nvram.Describe} is UEFI's variable store: give <loader type='pflash'> or <os firmware='efi'>");
            nvramTemplate = nvram.Attribute("template") is { } t ? XmlValues.AbsolutePath(t, "<nvram template>") : null;
            string text = FinishText(nvram);
            nvramPath = text.Length == 0 ? null : XmlValues.AbsolutePath(text, "<nvram>");
        }
        var kernel = os.Child("kernel");
        if (kernel is not null && loader is not null)
            throw DomainXmlError.Unsupported("<loader> with a <kernel> is not supported: KvmSharp loads the kernel directly, without firmware");
        if (kernel is not null && uefi)
            throw DomainXmlError.Unsupported("UEFI with a <kernel> is not supported: KvmSharp loads the kernel directly, without firmware");
        string? kernelPath = kernel is null ? null : XmlValues.AbsolutePath(FinishText(kernel), "<kernel>");
        string? initrd = os.Child("initrd") is { } i ? XmlValues.AbsolutePath(FinishText(i), "<initrd>") : null;
        string? cmdline = os.Child("cmdline") is { } c ? FinishText(c) : null;
        if (kernelPath is null && (initrd is not null || cmdline is not null))
            throw DomainXmlError.Unsupported("<initrd> and <cmdline> in <os> need a <kernel>: the firmware boots the disk as it is");
        os.Finish();
        // BootsDisk says here only whether <boot> was given; WithBootChecked settles it once the devices are read.
        return new DomainOs(kernelPath, initrd, cmdline is "" ? null : cmdline, machine)
        {
            BootsDisk = bootsDisk,
            Loader = loader,
            Uefi = uefi,
            Nvram = nvramPath,
            NvramTemplate = nvramTemplate,
        };
    }

    /// <summary>
    /// &lt;loader&gt;: a BIOS image mapped read-only (type 'rom', libvirt's default for a BIOS), or UEFI's code in a
    /// read-only flash (type 'pflash'). Secure Boot needs SMM, which the machine does not have; a stateless or
    /// writable code flash is not what OVMF's split build expects.
    /// </summary>
    private static (string Path, bool Pflash) ReadLoader(ElementReader loader)
    {
        XmlValues.OptionalChoice(loader, "readonly", "yes");
        bool pflash = XmlValues.OptionalChoice(loader, "type", "rom", "pflash") == "pflash";
        if (XmlValues.OptionalChoice(loader, "secure", "no", "yes") == "yes")
            throw DomainXmlError.Unsupported($"secure='yes' of {loader.Describe} is not supported: Secure Boot needs SMM, which KvmSharp's machine does not have");
        XmlValues.OptionalChoice(loader, "stateless", "no");
        return (XmlValues.AbsolutePath(FinishText(loader), "<loader>"), pflash);
    }

    [GeneratedRegex(@"^(pc|q35|pc-i440fx-[0-9a-z.]{1,32}|pc-q35-[0-9a-z.]{1,32})$", RegexOptions.CultureInvariant)]
    private static partial Regex MachineType();

    private static DomainFeatures ReadFeatures(ElementReader e)
    {
        bool Flag(string name)
        {
            if (e.Child(name) is not { } flag) return false;
            flag.Finish();
            return true;
        }
        bool acpi = Flag("acpi"), apic = Flag("apic"), pae = Flag("pae");
        bool vmportOff = false;
        if (e.Child("vmport") is { } vmport)
        {
            // We have no VMware backdoor port; 'off' is the truth and is what virt-install writes.
            XmlValues.Choice(vmport, "state", null, "off");
            vmport.Finish();
            vmportOff = true;
        }
        e.Finish();
        return new DomainFeatures(acpi, apic, pae, vmportOff);
    }

    private static DomainCpu ReadCpu(ElementReader e)
    {
        string mode = XmlValues.Choice(e, "mode", null, "host-passthrough", "host-model");
        string? check = XmlValues.OptionalChoice(e, "check", "none", "partial", "full");
        bool? migratable = XmlValues.OptionalChoice(e, "migratable", "on", "off") is { } m ? m == "on" : null;
        if (migratable is not null && mode != "host-passthrough")
            throw DomainXmlError.Unsupported("the attribute 'migratable' of <cpu> is only for mode='host-passthrough' (as libvirt says)");
        e.Finish();
        return new DomainCpu(mode, check, migratable);
    }

    /// <summary>&lt;clock offset='utc'/&gt;: our RTC keeps UTC, libvirt's default, so the writer always says so and nothing is kept.</summary>
    private static void ReadClock(ElementReader e)
    {
        XmlValues.Choice(e, "offset", null, "utc");
        e.Finish();
    }

    private static bool ReadPm(ElementReader e)
    {
        foreach (string name in (string[])["suspend-to-mem", "suspend-to-disk"])
            if (e.Child(name) is { } state)
            {
                XmlValues.Choice(state, "enabled", null, "no");
                state.Finish();
            }
        e.Finish();
        return true;
    }

    private static LifecycleAction ReadAction(ElementReader e)
    {
        string text = e.TrimmedText();
        e.Finish();
        return text switch
        {
            "destroy" => LifecycleAction.Destroy,
            "restart" => LifecycleAction.Restart,
            "preserve" => LifecycleAction.Preserve,
            _ => throw DomainXmlError.Unsupported($"{e.Describe} '{DomainXmlError.Quote(text)}' is not supported (only destroy, restart, preserve)"),
        };
    }
}
