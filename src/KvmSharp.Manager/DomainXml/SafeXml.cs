using System.Xml;
using System.Xml.Linq;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Loads a document from a client or a file as hostile input: no DTD (so no entity expansion and no external
/// resolution), a size cap and a nesting cap, comments and processing instructions dropped. A document that breaks
/// any rule, or is not well-formed XML, is an <see cref="Domains.ManagerError.XmlError"/>.
/// </summary>
internal static class SafeXml
{
    /// <summary>
    /// Characters in one document. A domain we can run is a few KiB; libvirt's RPC strings may be 4 MiB
    /// (REMOTE_STRING_MAX), far more than a definition needs.
    /// </summary>
    public const int MaxLength = 1 << 20;

    /// <summary>Element nesting; our deepest accepted path is domainsnapshot/domain/devices/disk/driver (5).</summary>
    public const int MaxDepth = 16;

    public static XElement LoadRoot(string xml, string rootName)
    {
        if (xml.Length > MaxLength)
            throw DomainXmlError.Xml($"the document is {xml.Length} characters long; at most {MaxLength} are accepted");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxLength,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        XDocument document;
        try
        {
            // First pass: depth only, so a deeply nested document never reaches the tree builder.
            using (var scan = XmlReader.Create(new StringReader(xml), settings))
                while (scan.Read())
                    if (scan.Depth > MaxDepth)
                        throw DomainXmlError.Xml($"elements are nested more than {MaxDepth} deep");
            using var reader = XmlReader.Create(new StringReader(xml), settings);
            document = XDocument.Load(reader);
        }
        catch (XmlException e) when (e.Message.Contains("DTD", StringComparison.Ordinal))
        {
            throw DomainXmlError.Xml("a document type declaration (<!DOCTYPE>) is not accepted");
        }
        catch (XmlException e)
        {
            throw DomainXmlError.Xml($"malformed document: {OneLine(e.Message)}");
        }
        var root = document.Root ?? throw DomainXmlError.Xml("the document has no root element");
        if (root.Name != XName.Get(rootName))
            throw DomainXmlError.Xml($"the root element is {ElementReader.Show(root)}, expected <{rootName}>");
        return root;
    }

    private static string OneLine(string text) => DomainXmlError.Quote(text.ReplaceLineEndings(" ")).TrimEnd();
}
