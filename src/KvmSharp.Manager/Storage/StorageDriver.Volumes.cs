using KvmSharp.Manager.Domains;
using KvmSharp.Storage;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Storage;

/// <summary>Volumes: files in an active pool's directory, made, copied, resized and read with our own code (raw files, <see cref="Qcow2Creator"/>, <see cref="Qcow2Resize"/>).</summary>
public sealed partial class StorageDriver
{
    /// <summary>VIR_STORAGE_VOL_RESIZE_ALLOCATE, DELTA, SHRINK.</summary>
    public const uint ResizeAllocate = 1, ResizeDelta = 2, ResizeShrink = 4;

    public IReadOnlyList<VolumeRef> ListVolumes(PoolRef poolRef)
    {
        lock (_gate)
        {
            var pool = RequireActive(Find(poolRef));
            return [.. pool.Volumes.Select(name => Ref(pool, name))];
        }
    }

    public VolumeRef LookupVolume(PoolRef poolRef, string name)
    {
        lock (_gate)
        {
            var pool = RequireActive(Find(poolRef));
            return pool.Volumes.Contains(name) ? Ref(pool, name) : throw VolumeFile.NoVolume(name);
        }
    }

    /// <summary>A dir pool's key and path are the same: the file's path.</summary>
    public VolumeRef LookupVolumeByPath(string path)
    {
        lock (_gate)
            foreach (var pool in _pools.Where(p => p.Active))
                foreach (string name in pool.Volumes)
                    if (pool.VolumePath(name) == path) return Ref(pool, name);
        throw new ManagerException(ManagerError.NoStorageVol, $"Storage volume not found: no storage vol with matching path '{path}'");
    }

    public (string Path, VolumeFormat Format) Resolve(string poolName, string volume)
    {
        lock (_gate)
        {
            var pool = _pools.FirstOrDefault(p => p.Name == poolName) ?? throw NoPool($"no storage pool with matching name '{poolName}'");
            if (!pool.Active)
                throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: storage pool '{poolName}' containing volume '{volume}' is not active");
            if (!pool.Volumes.Contains(volume)) throw VolumeFile.NoVolume(volume);
            string path = pool.VolumePath(volume);
            VolumeFile.Status(path, volume);
            return (path, pool.Formats.Find(volume) ?? VolumeFormat.Raw);
        }
    }

    private static VolumeRef Ref(StoragePool pool, string name) => new(pool.Name, name, pool.VolumePath(name));

    /// <summary>The volume a client names, in an active pool (by pool name and volume name; the key is not trusted).</summary>
    private (StoragePool Pool, string Path) FindVolume(VolumeRef volume)
    {
        var pool = _pools.FirstOrDefault(p => p.Name == volume.Pool) ?? throw NoPool($"no storage pool with matching name '{volume.Pool}'");
        RequireActive(pool);
        if (!pool.Volumes.Contains(volume.Name)) throw VolumeFile.NoVolume(volume.Name);
        return (pool, pool.VolumePath(volume.Name));
    }

    // ---- create, clone, delete ----

    /// <summary>vol-create / vol-create-as: a sparse raw file, or a qcow2 image (with a backing file when asked).</summary>
    public VolumeRef CreateVolume(PoolRef poolRef, string xml)
    {
        var request = VolumeXml.Parse(xml);
        lock (_gate)
        {
            var pool = RequireActive(Find(poolRef));
            string path = NewVolumePath(pool, request.Name);
            var format = request.Format ?? (request.BackingPath is null ? VolumeFormat.Raw : VolumeFormat.Qcow2);
            if (format == VolumeFormat.Raw && request.BackingPath is not null)
                throw new ManagerException(ManagerError.ConfigUnsupported, "unsupported configuration: a raw volume cannot have a backing store; use format qcow2");
            ulong capacity = request.Capacity;
            if (format == VolumeFormat.Qcow2 && request.BackingPath is { } backing)
            {
                var (backingFormat, backingSize) = BackingOf(backing);
                if (request.BackingFormat is { } given && given != backingFormat)
                    throw new ManagerException(ManagerError.ConfigUnsupported,
                        $"unsupported configuration: the backing store '{backing}' is {VolumeFormats.Name(backingFormat)}, not {VolumeFormats.Name(given)}");
                if (capacity == 0) capacity = backingSize;
            }
            MakeFile(path, () =>
            {
                if (format == VolumeFormat.Qcow2)
                {
                    Qcow2Creator.Create(path, (long)capacity, 16, request.BackingPath);
                    VolumeFile.SetMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
                else
                {
                    using var file = VolumeFile.Create(path);
                    RandomAccess.SetLength(file, (long)capacity);
                }
            });
            pool.Added(request.Name, format);
            _logger.LogInformation("storage pool {Pool}: volume {Name} created ({Format}, {Capacity} bytes)", pool.Name, request.Name, VolumeFormats.Name(format), capacity);
            return Ref(pool, request.Name);
        }
    }

    /// <summary>vol-clone: a sparse copy of the whole file in the same format (a qcow2 clone keeps the source's backing file).</summary>
    public VolumeRef CloneVolume(PoolRef poolRef, string xml, VolumeRef source)
    {
        var request = VolumeXml.Parse(xml);
        lock (_gate)
        {
            var pool = RequireActive(Find(poolRef));
            var (sourcePool, sourcePath) = FindVolume(source);
            VolumeFile.Status(sourcePath, source.Name);
            var format = sourcePool.Formats.Find(source.Name) ?? VolumeFormat.Raw;
            if (request.Format is { } asked && asked != format)
                throw new ManagerException(ManagerError.ConfigUnsupported,
                    $"unsupported configuration: a clone has its source's format ({VolumeFormats.Name(format)}), not {VolumeFormats.Name(asked)}");
            // virsh vol-clone sends the source's own XML renamed, backing store included: that one is what the copy keeps anyway.
            if (request.BackingPath is { } backing && backing != Describe(sourcePool.Name, source.Name, sourcePath, format).BackingPath)
                throw new ManagerException(ManagerError.ConfigUnsupported, $"unsupported configuration: a clone keeps its source's backing store, not '{backing}'");
            string path = NewVolumePath(pool, request.Name);
            MakeFile(path, () => VolumeFile.SparseCopy(sourcePath, path));
            pool.Added(request.Name, format);
            return Ref(pool, request.Name);
        }
    }

    public void DeleteVolume(VolumeRef volume)
    {
        lock (_gate)
        {
            var (pool, path) = FindVolume(volume);
            VolumeFile.Status(path, volume.Name);
            try { File.Delete(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ManagerException(ManagerError.OperationFailed, $"cannot unlink file '{path}': {e.Message}");
            }
            pool.Removed(volume.Name);
        }
    }

    private static string NewVolumePath(StoragePool pool, string name)
    {
        string path = pool.VolumePath(name);
        if (pool.Volumes.Contains(name) || KvmSharp.Native.Libc.FileStatus.Of(path) is not null)
            throw new ManagerException(ManagerError.StorageVolExist, $"storage volume '{name}' exists already");
        return path;
    }

    /// <summary>Runs <paramref name="make"/>, which creates <paramref name="path"/>; on failure the file it made is removed, so nothing changed.</summary>
    private static void MakeFile(string path, Action make)
    {
        try
        {
            make();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or ManagerException)
        {
            // The file did not exist before (checked under the lock, created with O_EXCL): what is there now is ours.
            if (KvmSharp.Native.Libc.FileStatus.Of(path) is { IsRegularFile: true }) File.Delete(path);
            throw e as ManagerException ?? new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot create volume '{Path.GetFileName(path)}': {e.Message}");
        }
    }

    /// <summary>A backing file's format and size: a volume's recorded format when it is one of ours, else a probe of the file.</summary>
    private (VolumeFormat Format, ulong Size) BackingOf(string path)
    {
        var status = KvmSharp.Native.Libc.FileStatus.Of(path);
        if (status is not { IsRegularFile: true })
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: the backing store '{path}' is {(status is null ? "missing" : "not a regular file")}");
        VolumeFormat? recorded = null;
        foreach (var pool in _pools.Where(p => p.Active))
            foreach (string name in pool.Volumes)
                if (pool.VolumePath(name) == path) recorded = pool.Formats.Find(name);
        var described = Describe("", Path.GetFileName(path), path, recorded ?? ProbeFormat(path));
        return (described.Format, described.Capacity);
    }

    private static VolumeFormat ProbeFormat(string path)
    {
        using var file = VolumeFile.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return RandomAccess.Read(file, magic, 0) == 4 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(magic) == Qcow2Summary.Magic
            ? VolumeFormat.Qcow2 : VolumeFormat.Raw;
    }

    // ---- inspect ----

    public VolumeInfo GetVolumeInfo(VolumeRef volume)
    {
        var d = DescribeVolume(volume);
        return new VolumeInfo(0, d.Capacity, d.Allocation);
    }

    public string GetVolumeXml(VolumeRef volume) => VolumeXml.Format(DescribeVolume(volume));

    public string GetVolumePath(VolumeRef volume)
    {
        lock (_gate) return FindVolume(volume).Path;
    }

    private VolumeDescription DescribeVolume(VolumeRef volume)
    {
        lock (_gate)
        {
            var (pool, path) = FindVolume(volume);
            return Describe(pool.Name, volume.Name, path, pool.Formats.Find(volume.Name) ?? VolumeFormat.Raw);
        }
    }

    /// <summary>Capacity from the file (raw: its size; qcow2: the header's virtual size), allocation from st_blocks.</summary>
    private static VolumeDescription Describe(string poolName, string name, string path, VolumeFormat format)
    {
        var status = VolumeFile.Status(path, name);
        ulong allocation = (ulong)Math.Max(0, status.AllocatedBytes);
        ulong physical = (ulong)Math.Max(0, status.Size);
        if (format == VolumeFormat.Raw) return new VolumeDescription(poolName, name, path, format, physical, allocation, physical, null, null);
        try
        {
            using var file = VolumeFile.OpenRead(path);
            var header = Qcow2Summary.Read(file, path);
            string? backing = header.BackingFile is { } b ? DiskImage.ResolveBacking(path, b) : null;
            return new VolumeDescription(poolName, name, path, format, (ulong)header.VirtualSize, allocation, physical, backing,
                header.BackingFormat is { } f ? VolumeFormats.Parse(f) : null);
        }
        catch (IOException e)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: volume '{name}' is not a readable qcow2 image: {e.Message}");
        }
    }

    // ---- resize ----

    /// <summary>
    /// vol-resize: raw by ftruncate (a shrink only with VIR_STORAGE_VOL_RESIZE_SHRINK), qcow2 growth by
    /// <see cref="Qcow2Resize"/> (a qcow2 shrink is refused). Both take the VMM's lock: a volume in use is refused.
    /// </summary>
    public void ResizeVolume(VolumeRef volume, ulong capacity, uint flags)
    {
        lock (_gate)
        {
            var (pool, path) = FindVolume(volume);
            var format = pool.Formats.Find(volume.Name) ?? VolumeFormat.Raw;
            var current = Describe(pool.Name, volume.Name, path, format);
            if ((flags & ResizeAllocate) != 0)
                throw new ManagerException(ManagerError.OperationUnsupported, "Operation not supported: preallocating on resize (--allocate) is not supported");
            if ((flags & ResizeDelta) != 0)
            {
                bool shrink = (flags & ResizeShrink) != 0;
                if (!shrink && capacity > VolumeXml.MaxCapacity - Math.Min(current.Capacity, VolumeXml.MaxCapacity))
                    throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: capacity {current.Capacity} + {capacity} bytes is larger than 2^56");
                if (shrink && capacity > current.Capacity)
                    throw new ManagerException(ManagerError.InvalidArg, "invalid argument: can't shrink capacity below 0");
                capacity = shrink ? current.Capacity - capacity : current.Capacity + capacity;
            }
            if (capacity > VolumeXml.MaxCapacity)
                throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: capacity {capacity} is larger than the 2^56 bytes a volume may have");
            if (capacity < current.Capacity && (flags & ResizeShrink) == 0)
                throw new ManagerException(ManagerError.InvalidArg, "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly specified");
            try
            {
                if (format == VolumeFormat.Qcow2)
                {
                    if (capacity < current.Capacity)
                        throw new ManagerException(ManagerError.OperationUnsupported, $"Operation not supported: shrinking the qcow2 volume '{volume.Name}' is not supported");
                    VolumeFile.Status(path, volume.Name);
                    Qcow2Resize.Grow(path, (long)capacity);
                }
                else
                {
                    using var file = VolumeFile.OpenWrite(path, volume.Name);
                    RandomAccess.SetLength(file, (long)capacity);
                    VolumeFile.Sync(file);
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or NotSupportedException or UnauthorizedAccessException)
            {
                if (e.Message.Contains("being used", StringComparison.OrdinalIgnoreCase))
                    throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: volume '{volume.Name}' is in use (a running domain has it open)");
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot resize volume '{volume.Name}': {e.Message}");
            }
        }
    }

    // ---- upload and download ----

    /// <summary>
    /// vol-upload: a writer of the volume's file bytes from <paramref name="offset"/>, at most <paramref name="length"/> bytes
    /// (0: until the client ends the stream), never past the end of the file: the volume does not grow under a stream.
    /// </summary>
    public VolumeTransfer OpenUpload(VolumeRef volume, ulong offset, ulong length)
    {
        lock (_gate)
        {
            var (_, path) = FindVolume(volume);
            var file = VolumeFile.OpenWrite(path, volume.Name);
            return VolumeTransfer.Open(file, volume.Name, offset, length, upload: true);
        }
    }

    /// <summary>vol-download: the volume's file bytes from <paramref name="offset"/>, <paramref name="length"/> of them (0: to the end).</summary>
    public VolumeTransfer OpenDownload(VolumeRef volume, ulong offset, ulong length)
    {
        lock (_gate)
        {
            var (_, path) = FindVolume(volume);
            VolumeFile.Status(path, volume.Name);
            return VolumeTransfer.Open(VolumeFile.OpenRead(path), volume.Name, offset, length, upload: false);
        }
    }
}
