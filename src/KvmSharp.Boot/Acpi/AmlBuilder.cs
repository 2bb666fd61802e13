namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Writes a TermList of ACPI Machine Language (ACPI 6.5 §20): the body of a DSDT or SSDT. Objects that
/// contain others (Scope, Device, Method) take a callback that writes their contents into a nested
/// builder; the outer one then prefixes the contents with their PkgLength (§20.2.4).
/// <code>
/// aml.Device("COM1", d =>
/// {
///     d.NameEisaId("_HID", "PNP0501");
///     d.NameResources("_CRS", r => r.Io(0x3F8, 8).Irq(4));
/// });
/// </code>
/// </summary>
public sealed class AmlBuilder
{
    private readonly List<byte> _bytes = [];

    /// <summary>Bytes written so far.</summary>
    public int Length => _bytes.Count;

    /// <summary>The AML written so far.</summary>
    public byte[] ToArray() => [.. _bytes];

    /// <summary><c>Scope(path) { body }</c>: opens an existing namespace scope such as <c>\_SB</c> (ACPI 6.5 §19.6.122, §20.2.5.1).</summary>
    public AmlBuilder Scope(string path, Action<AmlBuilder> body)
    {
        _bytes.Add(AmlOpcodes.ScopeOp);
        AppendPackage([.. AmlEncoding.NameString(path), .. Nested(body)]);
        return this;
    }

    /// <summary><c>Device(name) { body }</c>: a device object (ACPI 6.5 §19.6.31, DefDevice in §20.2.5.2).</summary>
    public AmlBuilder Device(string name, Action<AmlBuilder> body)
    {
        _bytes.Add(AmlOpcodes.ExtOpPrefix);
        _bytes.Add(AmlOpcodes.DeviceOp);
        AppendPackage([.. AmlEncoding.NameString(name), .. Nested(body)]);
        return this;
    }

    /// <summary>
    /// <c>Method(name, argCount, Serialized|NotSerialized) { body }</c> (ACPI 6.5 §19.6.85, §20.2.5.2).
    /// MethodFlags: bits 0-2 the argument count, bit 3 SerializeFlag, bits 4-7 SyncLevel (always 0 here).
    /// </summary>
    public AmlBuilder Method(string name, int argCount, bool serialized, Action<AmlBuilder> body)
    {
        if (argCount is < 0 or > 7)
            throw new ArgumentOutOfRangeException(nameof(argCount), "an AML method takes 0-7 arguments");
        byte flags = (byte)(argCount | (serialized ? 1 << 3 : 0));
        _bytes.Add(AmlOpcodes.MethodOp);
        AppendPackage([.. AmlEncoding.NameString(name), flags, .. Nested(body)]);
        return this;
    }

    /// <summary><c>Return(value)</c> inside a method (ACPI 6.5 §19.6.120, DefReturn in §20.2.5.3).</summary>
    public AmlBuilder Return(ulong value)
    {
        _bytes.Add(AmlOpcodes.ReturnOp);
        _bytes.AddRange(AmlEncoding.Integer(value));
        return this;
    }

    /// <summary><c>Name(name, integer)</c> (ACPI 6.5 §19.6.90, DefName in §20.2.5.1).</summary>
    public AmlBuilder Name(string name, ulong integer) => NameObject(name, AmlEncoding.Integer(integer));

    /// <summary><c>Name(name, "value")</c>: a String object, such as a _HID of "ACPI0007".</summary>
    public AmlBuilder NameString(string name, string value) => NameObject(name, AmlEncoding.String(value));

    /// <summary><c>Name(name, EISAID("PNP0501"))</c>: the compressed EISA ID as a DWord (ACPI 6.5 §19.6.41).</summary>
    public AmlBuilder NameEisaId(string name, string eisaId)
    {
        uint id = AmlEncoding.EisaId(eisaId);
        return NameObject(name, [AmlOpcodes.DWordPrefix, (byte)id, (byte)(id >> 8), (byte)(id >> 16), (byte)(id >> 24)]);
    }

    /// <summary><c>Name(name, Buffer() { bytes })</c> (DefBuffer, ACPI 6.5 §20.2.5.4).</summary>
    public AmlBuilder NameBuffer(string name, ReadOnlySpan<byte> contents) => NameObject(name, Buffer(contents));

    /// <summary><c>Name(name, ResourceTemplate() { … })</c>: a buffer of resource descriptors (ACPI 6.5 §6.4, §19.3.3).</summary>
    public AmlBuilder NameResources(string name, Action<ResourceTemplate> resources)
    {
        var template = new ResourceTemplate();
        resources(template);
        return NameBuffer(name, template.ToArray());
    }

    /// <summary>
    /// <c>Name(name, Package() { values })</c> of integers (DefPackage, ACPI 6.5 §20.2.5.4), such as
    /// <c>\_S5_</c> (§7.4.2). NumElements is one byte, so at most 255 values.
    /// </summary>
    public AmlBuilder NamePackage(string name, params ulong[] values) => NameObject(name, IntegerPackage(values));

    /// <summary>PackageOp PkgLength NumElements then each integer (DefPackage, ACPI 6.5 §20.2.5.4).</summary>
    private static byte[] IntegerPackage(ulong[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(values), "an AML Package() holds at most 255 elements");
        var contents = new List<byte> { (byte)values.Length };
        foreach (ulong value in values)
            contents.AddRange(AmlEncoding.Integer(value));
        return [AmlOpcodes.PackageOp, .. AmlEncoding.PackageLength(contents.Count), .. contents];
    }

    /// <summary>
    /// <c>Name(name, Package() { Package() { row }, … })</c>: a package of integer packages, such as a
    /// _PRT (ACPI 6.5 §6.2.13). At most 255 rows of at most 255 integers.
    /// </summary>
    public AmlBuilder NamePackageOfRows(string name, IReadOnlyList<ulong[]> rows)
    {
        if (rows.Count > byte.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rows), "an AML Package() holds at most 255 elements");
        var contents = new List<byte> { (byte)rows.Count };
        foreach (var row in rows)
            contents.AddRange(IntegerPackage(row));
        return NameObject(name, [AmlOpcodes.PackageOp, .. AmlEncoding.PackageLength(contents.Count), .. contents]);
    }

    /// <summary>Appends AML that was encoded elsewhere (for instance another builder's output).</summary>
    public AmlBuilder Raw(ReadOnlySpan<byte> aml)
    {
        foreach (byte b in aml) _bytes.Add(b);
        return this;
    }

    private AmlBuilder NameObject(string name, byte[] dataObject)
    {
        _bytes.Add(AmlOpcodes.NameOp);
        _bytes.AddRange(AmlEncoding.NameString(name));
        _bytes.AddRange(dataObject);
        return this;
    }

    /// <summary>BufferOp PkgLength BufferSize ByteList; BufferSize is an integer term.</summary>
    private static byte[] Buffer(ReadOnlySpan<byte> contents)
    {
        byte[] size = AmlEncoding.Integer((ulong)contents.Length);
        byte[] length = AmlEncoding.PackageLength(size.Length + contents.Length);
        var buffer = new byte[1 + length.Length + size.Length + contents.Length];
        buffer[0] = AmlOpcodes.BufferOp;
        length.CopyTo(buffer, 1);
        size.CopyTo(buffer, 1 + length.Length);
        contents.CopyTo(buffer.AsSpan(1 + length.Length + size.Length));
        return buffer;
    }

    private static byte[] Nested(Action<AmlBuilder> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var nested = new AmlBuilder();
        body(nested);
        return nested.ToArray();
    }

    private void AppendPackage(byte[] contents)
    {
        _bytes.AddRange(AmlEncoding.PackageLength(contents.Length));
        _bytes.AddRange(contents);
    }
}
