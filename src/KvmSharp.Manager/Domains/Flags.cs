namespace KvmSharp.Manager.Domains;

/// <summary>libvirt's flag bits the driver honours (libvirt-domain.h, libvirt-domain-snapshot.h); any other bit is refused.</summary>
internal static class Flags
{
    public const uint StartPaused = 1;
    public const uint ShutdownAcpiPowerButton = 1;
    public const uint DestroyGraceful = 1;
    public const uint RebootAcpiPowerButton = 1;
    public const uint UndefineManagedSave = 1, UndefineSnapshotsMetadata = 2, UndefineNvram = 4, UndefineKeepNvram = 8;
    public const uint SaveBypassCache = 1, SaveRunning = 2, SavePaused = 4;
    public const uint XmlSecure = 1, XmlInactive = 2, XmlUpdateCpu = 4, XmlMigratable = 8;
    public const uint ConsoleForce = 1, ConsoleSafe = 2;
    public const uint SnapshotRevertRunning = 1, SnapshotRevertPaused = 2, SnapshotRevertForce = 4;
    public const uint SnapshotDeleteChildren = 1, SnapshotDeleteMetadataOnly = 2, SnapshotDeleteChildrenOnly = 4;
    public const uint SnapshotCreateAtomic = 128, SnapshotCreateLive = 256;
    public const uint DefineValidate = 1;

    public static void Check(uint flags, uint allowed)
    {
        if ((flags & ~allowed) != 0)
            throw new ManagerException(ManagerError.InvalidArg, $"unsupported flags (0x{flags & ~allowed:x}) in function call");
    }
}
