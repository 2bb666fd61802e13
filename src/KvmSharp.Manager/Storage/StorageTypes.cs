namespace KvmSharp.Manager.Storage;

/// <summary>remote_nonnull_storage_pool {name; uuid}: how clients name a pool.</summary>
public sealed record PoolRef(string Name, Guid Uuid);

/// <summary>remote_nonnull_storage_vol {pool; name; key}: a dir pool's volume key is its path, as libvirt's.</summary>
public sealed record VolumeRef(string Pool, string Name, string Key);

/// <summary>virStoragePoolInfo: state (virStoragePoolState: 0 inactive, 2 running), sizes in bytes of the pool's file system.</summary>
public sealed record PoolInfo(int State, ulong Capacity, ulong Allocation, ulong Available)
{
    public const int Inactive = 0, Running = 2;
}

/// <summary>virStorageVolInfo: type 0 (VIR_STORAGE_VOL_FILE); capacity the guest's size; allocation the bytes the host file occupies.</summary>
public sealed record VolumeInfo(int Type, ulong Capacity, ulong Allocation);

/// <summary>The two image formats a volume can have; never probed from a volume once it is known (see <see cref="VolumeFormatBook"/>).</summary>
public enum VolumeFormat
{
    Raw,
    Qcow2,
}

public static class VolumeFormats
{
    public static string Name(VolumeFormat format) => format == VolumeFormat.Qcow2 ? "qcow2" : "raw";

    public static VolumeFormat? Parse(string name) => name switch
    {
        "raw" => VolumeFormat.Raw,
        "qcow2" => VolumeFormat.Qcow2,
        _ => null,
    };
}
