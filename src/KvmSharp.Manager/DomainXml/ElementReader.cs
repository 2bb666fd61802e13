using System.Xml.Linq;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Reads one element and remembers what was read, so that <see cref="Finish"/> can refuse whatever is left: an
/// attribute or child we do not know is never dropped silently, and the refusal names it.
/// </summary>
internal sealed class ElementReader(XElement element)
{
    private readonly HashSet<XName> _attributesRead = [];
    private readonly HashSet<XElement> _childrenRead = new(ReferenceEqualityComparer.Instance);
    private bool _textRead;

    public XElement Element { get; } = element;

    /// <summary>How messages name this element: "&lt;driver&gt; in &lt;disk&gt;", or "&lt;graphics&gt;" right under the domain or its devices.</summary>
    public string Describe => DescribeElement(Element);

    public static string DescribeElement(XElement element) => element.Parent switch
    {
        null => Show(element),
        { Parent: null } => Show(element),
        { Name.LocalName: "devices" } => Show(element),
        var parent => $"{Show(element)} in {Show(parent)}",
    };

    /// <summary>&lt;name&gt;, or &lt;prefix:name&gt; for an element in a namespace.</summary>
    public static string Show(XElement element)
    {
        if (element.Name.Namespace == XNamespace.None) return $"<{DomainXmlError.Quote(element.Name.LocalName)}>";
        string prefix = element.GetPrefixOfNamespace(element.Name.Namespace) ?? element.Name.NamespaceName;
        return $"<{DomainXmlError.Quote(prefix)}:{DomainXmlError.Quote(element.Name.LocalName)}>";
    }

    public string? Attribute(string name)
    {
        var attribute = Element.Attribute(name);
        if (attribute is null) return null;
        _attributesRead.Add(attribute.Name);
        return attribute.Value;
    }

    public string RequiredAttribute(string name) =>
        Attribute(name) ?? throw DomainXmlError.Xml($"{Describe} needs the attribute '{name}'");

    /// <summary>The one child called <paramref name="name"/>, or null; two are an error.</summary>
    public ElementReader? Child(string name)
    {
        ElementReader? found = null;
        foreach (var child in Element.Elements(name))
        {
            if (found is not null) throw DomainXmlError.Xml($"{DescribeElement(child)} is given more than once");
            _childrenRead.Add(child);
            found = new ElementReader(child);
        }
        return found;
    }

    public ElementReader RequiredChild(string name, string why) =>
        Child(name) ?? throw DomainXmlError.Xml($"<{name}> is missing in {Show(Element)}: {why}");

    /// <summary>
    /// Refuses the first child, in document order, that is none of <paramref name="known"/>: called before reading,
    /// so that the message names the first thing in the document we lack rather than whatever is read last.
    /// </summary>
    public void RefuseOtherChildren(params ReadOnlySpan<string> known)
    {
        foreach (var child in Element.Elements())
            if (child.Name.Namespace != XNamespace.None || !known.Contains(child.Name.LocalName))
                throw DomainXmlError.Unsupported($"{DescribeElement(child)} is not supported");
    }

    /// <summary>Every child element in document order, for a caller that dispatches on names; each one it takes it marks with <see cref="Take"/>.</summary>
    public IEnumerable<XElement> ChildElements => Element.Elements();

    public ElementReader Take(XElement child)
    {
        _childrenRead.Add(child);
        return new ElementReader(child);
    }

    /// <summary>The element's text (its text and CDATA nodes together).</summary>
    public string Text()
    {
        _textRead = true;
        return string.Concat(Element.Nodes().OfType<XText>().Select(t => t.Value));
    }

    /// <summary>The text with XML white space around it removed, for numbers and keywords.</summary>
    public string TrimmedText() => Text().Trim(' ', '\t', '\r', '\n');

    /// <summary>Refuses what nobody read: an unknown attribute or child (unsupported), text where none belongs (an XML error). Finishes the element alone; children finish themselves.</summary>
    public void Finish()
    {
        foreach (var attribute in Element.Attributes())
            if (!attribute.IsNamespaceDeclaration && !_attributesRead.Contains(attribute.Name))
                throw DomainXmlError.Unsupported($"the attribute '{DomainXmlError.Quote(attribute.Name.LocalName)}' of {Describe} is not supported");
        foreach (var child in Element.Elements())
            if (!_childrenRead.Contains(child))
                throw DomainXmlError.Unsupported($"{DescribeElement(child)} is not supported");
        if (!_textRead && Element.Nodes().OfType<XText>().Any(t => t.Value.AsSpan().Trim(" \t\r\n").Length > 0))
            throw DomainXmlError.Xml($"{Describe} must not contain text");
    }
}
