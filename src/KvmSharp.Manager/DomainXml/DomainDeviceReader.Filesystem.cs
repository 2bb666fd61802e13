namespace KvmSharp.Manager.DomainXml;

internal static partial class DomainDeviceReader
{
    /// <summary>
    /// &lt;filesystem type='mount' accessmode='passthrough'&gt;&lt;driver type='virtiofs'/&gt;&lt;source dir=…/&gt;
    /// &lt;target dir=TAG/&gt;[&lt;readonly/&gt;]: libvirt's syntax for virtio-fs. libvirt also wants shared memory
    /// backing there, for its external virtiofsd; our server runs inside kvmsharp, so none is asked for.
    /// </summary>
    private static DomainFilesystem ReadFilesystem(ElementReader f)
    {
        XmlValues.Choice(f, "type", "mount", "mount");
        XmlValues.Choice(f, "accessmode", "passthrough", "passthrough");
        var driver = f.RequiredChild("driver", "only virtio-fs shares are supported: give <driver type='virtiofs'/>");
        XmlValues.Choice(driver, "type", null, "virtiofs");
        driver.Finish();
        var source = f.RequiredChild("source", "name the host folder with <source dir='…'/>");
        string dir = XmlValues.AbsolutePath(source.RequiredAttribute("dir"), "the dir of <source> in <filesystem>");
        source.Finish();
        var target = f.RequiredChild("target", "give the guest's mount tag with <target dir='TAG'/>");
        string tag = target.RequiredAttribute("dir");
        target.Finish();
        bool readOnly = false;
        if (f.Child("readonly") is { } ro)
        {
            ro.Finish();
            readOnly = true;
        }
        int? slot = ReadAddress(f.Child("address"));
        f.Finish();
        return new DomainFilesystem(dir, tag, readOnly) { Slot = slot };
    }
}
