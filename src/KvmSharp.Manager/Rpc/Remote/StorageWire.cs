using KvmSharp.Manager.Rpc.Xdr;
using KvmSharp.Manager.Storage;

namespace KvmSharp.Manager.Rpc.Remote;

/// <summary>remote_nonnull_storage_pool {string name; opaque uuid[16]} and remote_nonnull_storage_vol {string pool; string name; string key}.</summary>
public static class StorageWire
{
    /// <summary>REMOTE_STORAGE_POOL_LIST_MAX and REMOTE_STORAGE_VOL_LIST_MAX.</summary>
    public const int PoolListMax = 16384, VolumeListMax = 16384;

    public static PoolRef ReadPool(ref XdrReader reader)
    {
        string name = reader.ReadString();
        return new PoolRef(name, reader.ReadUuid());
    }

    public static void WritePool(XdrWriter writer, PoolRef pool)
    {
        writer.WriteString(pool.Name);
        writer.WriteUuid(pool.Uuid);
    }

    public static VolumeRef ReadVolume(ref XdrReader reader)
    {
        string pool = reader.ReadString();
        string name = reader.ReadString();
        return new VolumeRef(pool, name, reader.ReadString());
    }

    public static void WriteVolume(XdrWriter writer, VolumeRef volume)
    {
        writer.WriteString(volume.Pool);
        writer.WriteString(volume.Name);
        writer.WriteString(volume.Key);
    }
}
