namespace KvmSharp.Manager.Storage;

/// <summary>
/// A dir pool as libvirt's storage pool XML (formatstorage) describes it: a name, a UUID and a target directory whose
/// regular files are the volumes. <paramref name="Mode"/>, <paramref name="Owner"/>, <paramref name="Group"/> are the
/// target's &lt;permissions&gt; (null: not given; pool-build then makes the directory 0711, libvirt's default).
/// </summary>
public sealed record PoolDefinition(string Name, Guid Uuid, string TargetPath, int? Mode = null, long? Owner = null, long? Group = null)
{
    /// <summary>VIR_STORAGE_DEFAULT_POOL_PERM_MODE.</summary>
    public const int DefaultMode = 0x1C9; // 0711

    public PoolRef Ref => new(Name, Uuid);
}
