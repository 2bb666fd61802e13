using KvmSharp.Manager.Domains;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// The daemon's storage: persistent dir pools (libvirt's storage driver for type='dir') under
/// <c>STATE/storage/pools/NAME/</c>, their volumes as the files of each pool's directory, and the lookup that turns a
/// domain's &lt;disk type='volume'&gt; into a path and a format. One lock orders every change; errors are
/// <see cref="ManagerException"/>s worded as libvirt words them (virsh prints them verbatim).
/// </summary>
public sealed partial class StorageDriver : IVolumeResolver
{
    private readonly Lock _gate = new();
    private readonly List<StoragePool> _pools = [];
    private readonly string _root;
    private readonly ILogger _logger;

    public StorageDriver(StateDirectory state, ILogger logger)
    {
        _root = Path.Combine(state.Root, "storage", "pools");
        _logger = logger;
        Directory.CreateDirectory(_root);
        foreach (string directory in Directory.EnumerateDirectories(_root).Order(StringComparer.Ordinal))
            if (StoragePool.Load(directory, m => logger.LogError("{Problem}", m)) is { } pool) _pools.Add(pool);
    }

    /// <summary>Starts the pools that were running when the daemon stopped, and the autostart ones; a failure is logged, the others go on.</summary>
    public void StartPools()
    {
        lock (_gate)
            foreach (var pool in _pools.Where(p => p.WasActive || p.Autostart))
            {
                try { pool.Activate(); }
                catch (Exception e) when (e is ManagerException or IOException or UnauthorizedAccessException)
                {
                    _logger.LogError("storage pool {Name} did not start: {Message}", pool.Name, e.Message);
                }
            }
    }

    // ---- lookups ----

    /// <summary>The pools, for CONNECT_LIST_ALL_STORAGE_POOLS: each with whether it is active and autostarts.</summary>
    public IReadOnlyList<(PoolRef Pool, bool Active, bool Autostart)> ListPools()
    {
        lock (_gate) return [.. _pools.Select(p => (p.Ref, p.Active, p.Autostart))];
    }

    public PoolRef LookupPoolByName(string name)
    {
        lock (_gate) return (_pools.FirstOrDefault(p => p.Name == name) ?? throw NoPool($"no storage pool with matching name '{name}'")).Ref;
    }

    public PoolRef LookupPoolByUuid(Guid uuid)
    {
        lock (_gate) return (_pools.FirstOrDefault(p => p.Definition.Uuid == uuid) ?? throw NoPool($"no storage pool with matching uuid '{uuid}'")).Ref;
    }

    public PoolRef LookupPoolByVolume(VolumeRef volume)
    {
        lock (_gate) return FindVolume(volume).Pool.Ref;
    }

    private StoragePool Find(PoolRef pool) =>
        _pools.FirstOrDefault(p => p.Definition.Uuid == pool.Uuid)
        ?? throw NoPool($"no storage pool with matching uuid '{pool.Uuid}' ({pool.Name})");

    private static ManagerException NoPool(string what) => new(ManagerError.NoStoragePool, $"Storage pool not found: {what}");

    private static StoragePool RequireActive(StoragePool pool) => pool.Active ? pool
        : throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: storage pool '{pool.Name}' is not active");

    private static void RequireInactive(StoragePool pool)
    {
        if (pool.Active) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: storage pool '{pool.Name}' is still active");
    }

    // ---- pools ----

    /// <summary>Defines a pool, or replaces the definition of the one with the same name and UUID (an active one keeps its directory).</summary>
    public PoolRef DefinePool(string xml)
    {
        var definition = PoolXml.Parse(xml);
        lock (_gate)
        {
            var same = _pools.FirstOrDefault(p => p.Name == definition.Name);
            var byUuid = _pools.FirstOrDefault(p => p.Definition.Uuid == definition.Uuid);
            if (same is not null && same.Definition.Uuid != definition.Uuid)
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: pool '{definition.Name}' is already defined with uuid {same.Definition.Uuid}");
            if (same is null && byUuid is not null)
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: pool '{byUuid.Name}' already exists with uuid {definition.Uuid}");
            if (_pools.FirstOrDefault(p => p != same && p.Definition.TargetPath == definition.TargetPath) is { } other)
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: Storage source conflict with pool: '{other.Name}'");
            if (same is { Active: true } && same.Definition.TargetPath != definition.TargetPath)
                throw new ManagerException(ManagerError.OperationInvalid,
                    $"Requested operation is not valid: pool '{same.Name}' is active; destroy it before changing its target path");
            var pool = same ?? new StoragePool(definition, Path.Combine(_root, definition.Name));
            pool.Definition = definition;
            pool.SaveDefinition();
            if (same is null) _pools.Add(pool);
            _logger.LogInformation("storage pool {Name}: defined (target {Path})", definition.Name, definition.TargetPath);
            return pool.Ref;
        }
    }

    /// <summary>pool-build: makes the target directory (with its parents) and gives it the &lt;permissions&gt; (mode, owner, group); an existing one is kept.</summary>
    public void BuildPool(PoolRef poolRef, uint flags)
    {
        lock (_gate)
        {
            var pool = Find(poolRef);
            RequireInactive(pool);
            var definition = pool.Definition;
            var mode = (UnixFileMode)(definition.Mode ?? PoolDefinition.DefaultMode);
            try
            {
                if (KvmSharp.Native.Libc.FileStatus.Of(definition.TargetPath) is { } status && !status.IsDirectory)
                    throw new ManagerException(ManagerError.OperationFailed, $"operation failed: '{definition.TargetPath}' exists and is not a directory");
                Directory.CreateDirectory(definition.TargetPath);
                VolumeFile.SetMode(definition.TargetPath, mode);
                if (definition.Owner is >= 0 || definition.Group is >= 0)
                    KvmSharp.Native.Libc.FileOwner.Change(definition.TargetPath, definition.Owner ?? -1, definition.Group ?? -1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ManagerException(ManagerError.OperationFailed, $"cannot create path '{definition.TargetPath}': {e.Message}");
            }
        }
    }

    public void StartPool(PoolRef poolRef)
    {
        lock (_gate)
        {
            var pool = Find(poolRef);
            if (pool.Active) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: storage pool '{pool.Name}' is already active");
            pool.Activate();
            _logger.LogInformation("storage pool {Name}: started with {Count} volumes", pool.Name, pool.Volumes.Count);
        }
    }

    public void DestroyPool(PoolRef poolRef)
    {
        lock (_gate) RequireActive(Find(poolRef)).Deactivate();
    }

    /// <summary>pool-delete: removes the (empty) target directory of an inactive pool.</summary>
    public void DeletePool(PoolRef poolRef)
    {
        lock (_gate)
        {
            var pool = Find(poolRef);
            RequireInactive(pool);
            try { Directory.Delete(pool.Definition.TargetPath); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ManagerException(ManagerError.OperationFailed, $"cannot remove directory '{pool.Definition.TargetPath}': {e.Message}");
            }
        }
    }

    public void UndefinePool(PoolRef poolRef)
    {
        lock (_gate)
        {
            var pool = Find(poolRef);
            RequireInactive(pool);
            pool.DeleteState();
            _pools.Remove(pool);
        }
    }

    public void RefreshPool(PoolRef poolRef)
    {
        lock (_gate) RequireActive(Find(poolRef)).Refresh();
    }

    public bool IsActive(PoolRef pool)
    {
        lock (_gate) return Find(pool).Active;
    }

    public bool GetAutostart(PoolRef pool)
    {
        lock (_gate) return Find(pool).Autostart;
    }

    public void SetAutostart(PoolRef pool, bool autostart)
    {
        lock (_gate) Find(pool).Autostart = autostart;
    }

    /// <summary>The pool's file system as statvfs(3) sees it (capacity, used, available to us), as libvirt's dir backend reports it.</summary>
    public PoolInfo GetPoolInfo(PoolRef poolRef)
    {
        lock (_gate)
        {
            var pool = Find(poolRef);
            if (!pool.Active) return new PoolInfo(PoolInfo.Inactive, 0, 0, 0);
            var drive = new DriveInfo(pool.Definition.TargetPath);
            ulong total = (ulong)Math.Max(0, drive.TotalSize);
            ulong free = (ulong)Math.Max(0, drive.TotalFreeSpace);
            return new PoolInfo(PoolInfo.Running, total, total - Math.Min(total, free), (ulong)Math.Max(0, drive.AvailableFreeSpace));
        }
    }

    /// <summary>flags: VIR_STORAGE_XML_INACTIVE 1 (the definition without sizes).</summary>
    public string GetPoolXml(PoolRef poolRef, uint flags)
    {
        var info = (flags & 1) != 0 ? null : GetPoolInfo(poolRef);
        lock (_gate) return PoolXml.Format(Find(poolRef).Definition, info is { State: PoolInfo.Running } ? info : null);
    }
}
