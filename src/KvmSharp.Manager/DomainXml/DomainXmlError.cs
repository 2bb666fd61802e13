using System.Text;
using KvmSharp.Manager.Domains;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// The two ways a definition is refused, worded as libvirt words them (virsh prints the message verbatim after
/// "error: "): a document that is wrong (<see cref="ManagerError.XmlError"/>) and one that asks for what we lack
/// (<see cref="ManagerError.ConfigUnsupported"/>).
/// </summary>
internal static class DomainXmlError
{
    public static ManagerException Xml(string message) => new(ManagerError.XmlError, "XML error: " + message);

    public static ManagerException Unsupported(string message) => new(ManagerError.ConfigUnsupported, "unsupported configuration: " + message);

    /// <summary>A value from the document, quoted for a one-line message: control characters shown as '?', long ones cut.</summary>
    public static string Quote(string value)
    {
        const int MaxShown = 64;
        var text = new StringBuilder(Math.Min(value.Length, MaxShown) + 3);
        foreach (char c in value.Length > MaxShown ? value[..MaxShown] : value) text.Append(char.IsControl(c) ? '?' : c);
        if (value.Length > MaxShown) text.Append("...");
        return text.ToString();
    }
}
