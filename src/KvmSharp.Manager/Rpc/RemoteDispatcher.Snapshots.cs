using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// snapshot-create-as, -list, -revert, -current, -delete (libvirt-protocol.md §3). Errors come from
/// VIR_FROM_DOMAIN_SNAPSHOT (35); "none" (no current snapshot, no parent) is VIR_ERR_NO_DOMAIN_SNAPSHOT (72), which
/// `snapshot-list --tree` takes as a root.
/// </summary>
internal sealed partial class RemoteDispatcher
{
    private void AddSnapshotProcedures()
    {
        const int fromSnapshot = RemoteError.FromDomainSnapshot;

        On(RemoteProcedure.DomainSnapshotCreateXml, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            string xml = args.ReadString();
            uint flags = args.ReadUInt32();
            return w => RemoteWire.WriteSnapshot(w, Driver.CreateSnapshot(domain, xml, flags));
        }, writes: "virDomainSnapshotCreateXML", errorDomain: fromSnapshot);

        // args {dom; int need_results; uint flags}; ret {remote_nonnull_domain_snapshot snapshots<>; int ret}.
        On(RemoteProcedure.DomainListAllSnapshots, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                var snapshots = Driver.ListSnapshots(domain, flags);
                if (snapshots.Count > RemoteLimits.SnapshotListMax)
                    throw new ManagerException(ManagerError.InternalError, $"too many snapshots ({snapshots.Count}) for one reply");
                w.WriteCount(needResults ? snapshots.Count : 0, RemoteLimits.SnapshotListMax);
                if (needResults) foreach (var snapshot in snapshots) RemoteWire.WriteSnapshot(w, snapshot);
                w.WriteInt32(snapshots.Count);
            };
        }, errorDomain: fromSnapshot);

        OnDomainFlags(RemoteProcedure.DomainSnapshotNum, (w, domain, flags) => w.WriteInt32(Driver.ListSnapshots(domain, flags).Count),
            errorDomain: fromSnapshot);

        On(RemoteProcedure.DomainSnapshotLookupByName, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            string name = args.ReadString();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 0, "virDomainSnapshotLookupByName");
                RemoteWire.WriteSnapshot(w, Driver.LookupSnapshot(domain, name));
            };
        }, errorDomain: fromSnapshot);

        OnSnapshotFlags(RemoteProcedure.DomainSnapshotGetXmlDesc, (w, snapshot, flags) => w.WriteString(Driver.GetSnapshotXml(snapshot, flags)));

        OnDomainFlags(RemoteProcedure.DomainHasCurrentSnapshot, (w, domain, flags) =>
        {
            CheckFlags(flags, 0, "virDomainHasCurrentSnapshot");
            w.WriteInt32(Driver.CurrentSnapshot(domain) is null ? 0 : 1);
        }, errorDomain: fromSnapshot);

        OnDomainFlags(RemoteProcedure.DomainSnapshotCurrent, (w, domain, flags) =>
        {
            CheckFlags(flags, 0, "virDomainSnapshotCurrent");
            var current = Driver.CurrentSnapshot(domain)
                ?? throw new ManagerException(ManagerError.NoDomainSnapshot, $"the domain '{domain.Name}' has no current snapshot");
            RemoteWire.WriteSnapshot(w, current);
        }, errorDomain: fromSnapshot);

        OnSnapshotFlags(RemoteProcedure.DomainSnapshotGetParent, (w, snapshot, flags) =>
        {
            CheckFlags(flags, 0, "virDomainSnapshotGetParent");
            var parent = Driver.SnapshotParent(snapshot)
                ?? throw new ManagerException(ManagerError.NoDomainSnapshot, $"snapshot '{snapshot.Name}' does not have a parent");
            RemoteWire.WriteSnapshot(w, parent);
        });

        OnSnapshotFlags(RemoteProcedure.DomainRevertToSnapshot, (_, snapshot, flags) => Driver.RevertToSnapshot(snapshot, flags),
            writes: "virDomainRevertToSnapshot");
        OnSnapshotFlags(RemoteProcedure.DomainSnapshotDelete, (_, snapshot, flags) => Driver.DeleteSnapshot(snapshot, flags),
            writes: "virDomainSnapshotDelete");
    }
}
