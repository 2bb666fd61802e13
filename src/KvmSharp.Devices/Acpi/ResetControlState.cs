namespace KvmSharp.Devices.Acpi;

/// <summary>The reset control register's saved value: SYS_RST and FULL_RST as the guest last wrote them.</summary>
public sealed record ResetControlState
{
    public byte Value { get; init; }
}
