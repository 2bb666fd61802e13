namespace KvmSharp.Manager.Storage;

/// <summary>What a domain's &lt;disk type='volume'&gt;&lt;source pool='P' volume='V'/&gt; is when it starts: a file and its format.</summary>
public interface IVolumeResolver
{
    /// <exception cref="Domains.ManagerException">No such pool (VIR_ERR_NO_STORAGE_POOL), pool not active, or no such volume (VIR_ERR_NO_STORAGE_VOL).</exception>
    (string Path, VolumeFormat Format) Resolve(string pool, string volume);
}
