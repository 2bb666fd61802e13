using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;
using KvmSharp.Manager.Storage;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Storage pools and volumes (remote_protocol.x procedures 71–100, 125, 208, 209, 260, 281, 282) onto
/// <see cref="StorageDriver"/>. Errors carry VIR_FROM_STORAGE.
/// </summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>VIR_CONNECT_LIST_STORAGE_POOLS_*: INACTIVE 1, ACTIVE 2, PERSISTENT 4, TRANSIENT 8, AUTOSTART 16, NO_AUTOSTART 32, then one bit per pool type from DIR (64) to ISCSI_DIRECT (1 &lt;&lt; 19).</summary>
    private const uint PoolsInactive = 1, PoolsActive = 2, PoolsPersistent = 4, PoolsTransient = 8, PoolsAutostart = 16, PoolsNoAutostart = 32,
        PoolsDir = 64, PoolTypesAll = ((1u << 20) - 1) & ~63u;

    private const uint PoolBuildFlagsKnown = 4 | 8;   // NO_OVERWRITE, OVERWRITE
    private const uint VolCreateFlagsKnown = 1 | 4;   // PREALLOC_METADATA (nothing to preallocate in a sparse file), VALIDATE
    private const int FromStorage = RemoteError.FromStorage;

    private void AddStorageProcedures(StorageDriver storage)
    {
        // ---- listing ----
        On(RemoteProcedure.ConnectListAllStoragePools, (ref args, _) =>
        {
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 63 | PoolTypesAll, "virConnectListAllStoragePools");
                var pools = storage.ListPools().Where(p => PoolMatches(flags, p.Active, p.Autostart)).Select(p => p.Pool).ToList();
                w.WriteCount(needResults ? pools.Count : 0, StorageWire.PoolListMax);
                if (needResults) foreach (var pool in pools) StorageWire.WritePool(w, pool);
                w.WriteUInt32((uint)pools.Count);
            };
        }, errorDomain: FromStorage);
        OnVoid(RemoteProcedure.ConnectNumOfStoragePools, (w, _) => w.WriteInt32(storage.ListPools().Count(p => p.Active)));
        OnVoid(RemoteProcedure.ConnectNumOfDefinedStoragePools, (w, _) => w.WriteInt32(storage.ListPools().Count(p => !p.Active)));
        foreach (var (procedure, active) in (ReadOnlySpan<(RemoteProcedure, bool)>)[(RemoteProcedure.ConnectListStoragePools, true), (RemoteProcedure.ConnectListDefinedStoragePools, false)])
            On(procedure, (ref args, _) =>
            {
                int max = args.ReadInt32();
                return w =>
                {
                    CheckListMax(max, StorageWire.PoolListMax, "maxnames");
                    var names = storage.ListPools().Where(p => p.Active == active).Take(max).ToList();
                    w.WriteCount(names.Count, StorageWire.PoolListMax);
                    foreach (var p in names) w.WriteString(p.Pool.Name);
                };
            }, errorDomain: FromStorage);

        // ---- pool lookups ----
        On(RemoteProcedure.StoragePoolLookupByName, (ref args, _) =>
        {
            string name = args.ReadString();
            return w => StorageWire.WritePool(w, storage.LookupPoolByName(name));
        }, errorDomain: FromStorage);
        On(RemoteProcedure.StoragePoolLookupByUuid, (ref args, _) =>
        {
            Guid uuid = args.ReadUuid();
            return w => StorageWire.WritePool(w, storage.LookupPoolByUuid(uuid));
        }, errorDomain: FromStorage);
        OnVolume(RemoteProcedure.StoragePoolLookupByVolume, (w, vol) => StorageWire.WritePool(w, storage.LookupPoolByVolume(vol)));

        // ---- pool life ----
        On(RemoteProcedure.StoragePoolDefineXml, (ref args, _) =>
        {
            string xml = args.ReadString();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 1, "virStoragePoolDefineXML");   // VALIDATE: we always validate
                StorageWire.WritePool(w, storage.DefinePool(xml));
            };
        }, writes: "virStoragePoolDefineXML", errorDomain: FromStorage);
        OnPoolFlags(RemoteProcedure.StoragePoolCreate, (_, pool, flags) =>
        {
            CheckFlags(flags, 7, "virStoragePoolCreate");   // WITH_BUILD, _OVERWRITE, _NO_OVERWRITE
            if ((flags & 7) != 0) storage.BuildPool(pool, 0);
            storage.StartPool(pool);
        }, "virStoragePoolCreate");
        OnPoolFlags(RemoteProcedure.StoragePoolBuild, (_, pool, flags) =>
        {
            CheckFlags(flags, PoolBuildFlagsKnown, "virStoragePoolBuild");
            storage.BuildPool(pool, flags);
        }, "virStoragePoolBuild");
        OnPool(RemoteProcedure.StoragePoolDestroy, (_, pool) => storage.DestroyPool(pool), "virStoragePoolDestroy");
        OnPoolFlags(RemoteProcedure.StoragePoolDelete, (_, pool, flags) =>
        {
            CheckFlags(flags, 0, "virStoragePoolDelete");
            storage.DeletePool(pool);
        }, "virStoragePoolDelete");
        OnPool(RemoteProcedure.StoragePoolUndefine, (_, pool) => storage.UndefinePool(pool), "virStoragePoolUndefine");
        OnPoolFlags(RemoteProcedure.StoragePoolRefresh, (_, pool, flags) =>
        {
            CheckFlags(flags, 0, "virStoragePoolRefresh");
            storage.RefreshPool(pool);
        }, "virStoragePoolRefresh");

        // ---- pool inspection ----
        // ret {unsigned char state; uhyper capacity; uhyper allocation; uhyper available}: the char takes 4 bytes.
        OnPool(RemoteProcedure.StoragePoolGetInfo, (w, pool) =>
        {
            var info = storage.GetPoolInfo(pool);
            w.WriteUInt32((uint)info.State);
            w.WriteUInt64(info.Capacity);
            w.WriteUInt64(info.Allocation);
            w.WriteUInt64(info.Available);
        });
        OnPoolFlags(RemoteProcedure.StoragePoolGetXmlDesc, (w, pool, flags) =>
        {
            CheckFlags(flags, 1, "virStoragePoolGetXMLDesc");
            w.WriteString(storage.GetPoolXml(pool, flags));
        });
        OnPool(RemoteProcedure.StoragePoolGetAutostart, (w, pool) => w.WriteInt32(storage.GetAutostart(pool) ? 1 : 0));
        On(RemoteProcedure.StoragePoolSetAutostart, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            int autostart = args.ReadInt32();
            return _ => storage.SetAutostart(pool, autostart != 0);
        }, writes: "virStoragePoolSetAutostart", errorDomain: FromStorage);
        OnPool(RemoteProcedure.StoragePoolIsActive, (w, pool) => w.WriteInt32(storage.IsActive(pool) ? 1 : 0));
        OnPool(RemoteProcedure.StoragePoolIsPersistent, (w, pool) =>
        {
            storage.IsActive(pool);   // an unknown pool is still VIR_ERR_NO_STORAGE_POOL
            w.WriteInt32(1);
        });

        // ---- volume listing and lookups ----
        On(RemoteProcedure.StoragePoolListAllVolumes, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 0, "virStoragePoolListAllVolumes");
                var volumes = storage.ListVolumes(pool);
                w.WriteCount(needResults ? volumes.Count : 0, StorageWire.VolumeListMax);
                if (needResults) foreach (var v in volumes) StorageWire.WriteVolume(w, v);
                w.WriteUInt32((uint)volumes.Count);
            };
        }, errorDomain: FromStorage);
        OnPool(RemoteProcedure.StoragePoolNumOfVolumes, (w, pool) => w.WriteInt32(storage.ListVolumes(pool).Count));
        On(RemoteProcedure.StoragePoolListVolumes, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            int max = args.ReadInt32();
            return w =>
            {
                CheckListMax(max, StorageWire.VolumeListMax, "maxnames");
                var names = storage.ListVolumes(pool).Take(max).ToList();
                w.WriteCount(names.Count, StorageWire.VolumeListMax);
                foreach (var v in names) w.WriteString(v.Name);
            };
        }, errorDomain: FromStorage);
        On(RemoteProcedure.StorageVolLookupByName, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            string name = args.ReadString();
            return w => StorageWire.WriteVolume(w, storage.LookupVolume(pool, name));
        }, errorDomain: FromStorage);
        foreach (var procedure in (ReadOnlySpan<RemoteProcedure>)[RemoteProcedure.StorageVolLookupByKey, RemoteProcedure.StorageVolLookupByPath])
            On(procedure, (ref args, _) =>
            {
                string path = args.ReadString();
                return w => StorageWire.WriteVolume(w, storage.LookupVolumeByPath(path));
            }, errorDomain: FromStorage);

        // ---- volume changes ----
        On(RemoteProcedure.StorageVolCreateXml, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            string xml = args.ReadString();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, VolCreateFlagsKnown, "virStorageVolCreateXML");
                StorageWire.WriteVolume(w, storage.CreateVolume(pool, xml));
            };
        }, writes: "virStorageVolCreateXML", errorDomain: FromStorage);
        On(RemoteProcedure.StorageVolCreateXmlFrom, (ref args, _) =>
        {
            var pool = StorageWire.ReadPool(ref args);
            string xml = args.ReadString();
            var source = StorageWire.ReadVolume(ref args);
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, VolCreateFlagsKnown, "virStorageVolCreateXMLFrom");
                StorageWire.WriteVolume(w, storage.CloneVolume(pool, xml, source));
            };
        }, writes: "virStorageVolCreateXMLFrom", errorDomain: FromStorage);
        OnVolumeFlags(RemoteProcedure.StorageVolDelete, (_, vol, flags) =>
        {
            CheckFlags(flags, 0, "virStorageVolDelete");
            storage.DeleteVolume(vol);
        }, "virStorageVolDelete");
        On(RemoteProcedure.StorageVolResize, (ref args, _) =>
        {
            var vol = StorageWire.ReadVolume(ref args);
            ulong capacity = args.ReadUInt64();
            uint flags = args.ReadUInt32();
            return _ =>
            {
                CheckFlags(flags, 7, "virStorageVolResize");
                storage.ResizeVolume(vol, capacity, flags);
            };
        }, writes: "virStorageVolResize", errorDomain: FromStorage);

        // ---- volume inspection ----
        // ret {char type; uhyper capacity; uhyper allocation}: the char takes 4 bytes.
        OnVolume(RemoteProcedure.StorageVolGetInfo, (w, vol) =>
        {
            var info = storage.GetVolumeInfo(vol);
            w.WriteInt32(info.Type);
            w.WriteUInt64(info.Capacity);
            w.WriteUInt64(info.Allocation);
        });
        OnVolumeFlags(RemoteProcedure.StorageVolGetXmlDesc, (w, vol, flags) =>
        {
            CheckFlags(flags, 0, "virStorageVolGetXMLDesc");
            w.WriteString(storage.GetVolumeXml(vol));
        });
        OnVolume(RemoteProcedure.StorageVolGetPath, (w, vol) => w.WriteString(storage.GetVolumePath(vol)));

        // ---- streams: args {vol; uhyper offset; uhyper length; uint flags}, void ret, then STREAM packets ----
        foreach (var (procedure, upload) in (ReadOnlySpan<(RemoteProcedure, bool)>)[(RemoteProcedure.StorageVolUpload, true), (RemoteProcedure.StorageVolDownload, false)])
            On(procedure, (ref args, call) =>
            {
                var vol = StorageWire.ReadVolume(ref args);
                ulong offset = args.ReadUInt64();
                ulong length = args.ReadUInt64();
                uint flags = args.ReadUInt32();
                return _ =>
                {
                    string api = upload ? "virStorageVolUpload" : "virStorageVolDownload";
                    if ((flags & 1) != 0)
                        throw new ManagerException(ManagerError.NoSupport, $"this function is not supported by the connection driver: {api} with sparse streams");
                    CheckFlags(flags, 0, api);
                    uint serial = call.Header.Serial;
                    if (call.Session.HasStream(serial))
                        throw new ManagerException(ManagerError.OperationInvalid, $"a stream with serial {serial} is already open");
                    var transfer = upload ? storage.OpenUpload(vol, offset, length) : storage.OpenDownload(vol, offset, length);
                    var stream = new VolumeStream(call.Session, call.Header, transfer, upload);
                    try
                    {
                        call.Session.AddStream(serial, stream);
                    }
                    catch
                    {
                        stream.Abandon();
                        throw;
                    }
                    call.OnFailure = stream.Abandon;
                    call.AfterReply = stream.Activate;
                };
            }, writes: upload ? "virStorageVolUpload" : null, errorDomain: FromStorage);
    }

    private static bool PoolMatches(uint flags, bool active, bool autostart)
    {
        if ((flags & (PoolsActive | PoolsInactive)) is var a && a != 0 && a != (PoolsActive | PoolsInactive) && ((a & PoolsActive) != 0) != active) return false;
        // Every pool is persistent: TRANSIENT alone matches none.
        if ((flags & (PoolsPersistent | PoolsTransient)) == PoolsTransient) return false;
        if ((flags & (PoolsAutostart | PoolsNoAutostart)) is var s && s != 0 && s != (PoolsAutostart | PoolsNoAutostart) && ((s & PoolsAutostart) != 0) != autostart) return false;
        if ((flags & PoolTypesAll) != 0 && (flags & PoolsDir) == 0) return false;
        return true;
    }

    private void OnPool(RemoteProcedure procedure, Action<XdrWriter, PoolRef> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var pool = StorageWire.ReadPool(ref r);
            return w => body(w, pool);
        }, writes, errorDomain: FromStorage);

    private void OnPoolFlags(RemoteProcedure procedure, Action<XdrWriter, PoolRef, uint> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var pool = StorageWire.ReadPool(ref r);
            uint flags = r.ReadUInt32();
            return w => body(w, pool, flags);
        }, writes, errorDomain: FromStorage);

    private void OnVolume(RemoteProcedure procedure, Action<XdrWriter, VolumeRef> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var volume = StorageWire.ReadVolume(ref r);
            return w => body(w, volume);
        }, writes, errorDomain: FromStorage);

    private void OnVolumeFlags(RemoteProcedure procedure, Action<XdrWriter, VolumeRef, uint> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var volume = StorageWire.ReadVolume(ref r);
            uint flags = r.ReadUInt32();
            return w => body(w, volume, flags);
        }, writes, errorDomain: FromStorage);
}
