using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Networks;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Virtual networks (virsh net-*): the procedures of remote_protocol.x's "Network calls" over
/// <see cref="INetworkDriver"/>. virsh net-list uses CONNECT_LIST_ALL_NETWORKS; the older NUM_OF/LIST pairs are
/// served too for clients that fall back to them. Errors are in VIR_FROM_NETWORK.
/// </summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>VIR_CONNECT_LIST_NETWORKS_INACTIVE, ACTIVE, PERSISTENT, TRANSIENT, AUTOSTART, NO_AUTOSTART.</summary>
    private const uint NetInactive = 1, NetActive = 2, NetPersistent = 4, NetTransient = 8, NetAutostart = 16, NetNoAutostart = 32, NetFlagsKnown = 63;

    private void AddNetworkProcedures(INetworkDriver networks)
    {
        const int From = NetworkWire.FromNetwork;

        On(RemoteProcedure.ConnectListAllNetworks, (ref args, _) =>
        {
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, NetFlagsKnown, "virConnectListAllNetworks");
                var list = FilterNetworks(networks, flags);
                w.WriteCount(needResults ? list.Count : 0, NetworkWire.NetworkListMax);
                if (needResults) foreach (var n in list) NetworkWire.WriteNetwork(w, n);
                w.WriteUInt32((uint)list.Count);
            };
        }, errorDomain: From);
        On(RemoteProcedure.ConnectNumOfNetworks, (ref _, _) => w => w.WriteInt32(FilterNetworks(networks, NetActive).Count), errorDomain: From);
        On(RemoteProcedure.ConnectNumOfDefinedNetworks, (ref _, _) => w => w.WriteInt32(FilterNetworks(networks, NetInactive).Count), errorDomain: From);
        OnNames(RemoteProcedure.ConnectListNetworks, () => FilterNetworks(networks, NetActive));
        OnNames(RemoteProcedure.ConnectListDefinedNetworks, () => FilterNetworks(networks, NetInactive));

        On(RemoteProcedure.NetworkLookupByName, (ref args, _) =>
        {
            string name = args.ReadString();
            return w => NetworkWire.WriteNetwork(w, networks.LookupByName(name));
        }, errorDomain: From);
        On(RemoteProcedure.NetworkLookupByUuid, (ref args, _) =>
        {
            Guid uuid = args.ReadUuid();
            return w => NetworkWire.WriteNetwork(w, networks.LookupByUuid(uuid));
        }, errorDomain: From);

        On(RemoteProcedure.NetworkDefineXml, (ref args, _) =>
        {
            string xml = args.ReadString();
            return w => NetworkWire.WriteNetwork(w, networks.Define(xml));
        }, writes: "virNetworkDefineXML", errorDomain: From);
        On(RemoteProcedure.NetworkCreateXml, (ref args, _) =>
        {
            string xml = args.ReadString();
            return w => NetworkWire.WriteNetwork(w, networks.CreateTransient(xml));
        }, writes: "virNetworkCreateXML", errorDomain: From);
        OnNetwork(RemoteProcedure.NetworkUndefine, (_, n) => networks.Undefine(n), "virNetworkUndefine");
        OnNetwork(RemoteProcedure.NetworkCreate, (_, n) => networks.Start(n), "virNetworkCreate");
        OnNetwork(RemoteProcedure.NetworkDestroy, (_, n) => networks.Destroy(n), "virNetworkDestroy");

        On(RemoteProcedure.NetworkGetXmlDesc, (ref args, _) =>
        {
            var network = NetworkWire.ReadNetwork(ref args);
            uint flags = args.ReadUInt32();
            return w => w.WriteString(networks.GetXml(network, flags));
        }, errorDomain: From);
        OnNetwork(RemoteProcedure.NetworkGetBridgeName, (w, n) => w.WriteString(networks.GetBridgeName(n)));
        OnNetwork(RemoteProcedure.NetworkGetAutostart, (w, n) => w.WriteInt32(networks.GetAutostart(n) ? 1 : 0));
        OnNetwork(RemoteProcedure.NetworkIsActive, (w, n) => w.WriteInt32(networks.IsActive(n) ? 1 : 0));
        OnNetwork(RemoteProcedure.NetworkIsPersistent, (w, n) => w.WriteInt32(networks.IsPersistent(n) ? 1 : 0));
        On(RemoteProcedure.NetworkSetAutostart, (ref args, _) =>
        {
            var network = NetworkWire.ReadNetwork(ref args);
            bool autostart = args.ReadInt32() != 0;
            return _ => networks.SetAutostart(network, autostart);
        }, writes: "virNetworkSetAutostart", errorDomain: From);

        // args {remote_nonnull_network net; remote_string mac; int need_results; uint flags}; ret {leases<>; uint ret}.
        On(RemoteProcedure.NetworkGetDhcpLeases, (ref args, _) =>
        {
            var network = NetworkWire.ReadNetwork(ref args);
            string? mac = args.ReadOptionalString();
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 0, "virNetworkGetDHCPLeases");
                var leases = networks.GetDhcpLeases(network, mac);
                if (leases.Count > NetworkWire.DhcpLeasesMax) leases = [.. leases.Take(NetworkWire.DhcpLeasesMax)];
                w.WriteCount(needResults ? leases.Count : 0, NetworkWire.DhcpLeasesMax);
                if (needResults) foreach (var lease in leases) NetworkWire.WriteLease(w, lease);
                w.WriteUInt32((uint)leases.Count);
            };
        }, errorDomain: From);
    }

    /// <summary>args {remote_nonnull_network net}.</summary>
    private void OnNetwork(RemoteProcedure procedure, Action<XdrWriter, NetworkRef> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var network = NetworkWire.ReadNetwork(ref r);
            return w => body(w, network);
        }, writes, errorDomain: NetworkWire.FromNetwork);

    /// <summary>args {int maxnames}; ret {remote_nonnull_string names&lt;REMOTE_NETWORK_LIST_MAX&gt;}.</summary>
    private void OnNames(RemoteProcedure procedure, Func<List<NetworkRef>> list) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            int max = r.ReadInt32();
            return w =>
            {
                if (max < 0 || max > NetworkWire.NetworkListMax)
                    throw new ManagerException(ManagerError.InvalidArg, $"maxnames {max} must be from 0 to {NetworkWire.NetworkListMax}");
                var names = list().Take(max).ToList();
                w.WriteCount(names.Count, NetworkWire.NetworkListMax);
                foreach (var n in names) w.WriteString(n.Name);
            };
        }, errorDomain: NetworkWire.FromNetwork);

    /// <summary>The flags come in pairs (active/inactive, …): neither set keeps all, either set keeps the matching ones.</summary>
    private static List<NetworkRef> FilterNetworks(INetworkDriver networks, uint flags)
    {
        var kept = new List<NetworkRef>();
        foreach (var n in networks.ListNetworks())
        {
            try
            {
                if (!Pair(flags, NetActive, NetInactive, networks.IsActive(n))) continue;
                if (!Pair(flags, NetPersistent, NetTransient, networks.IsPersistent(n))) continue;
                if (!Pair(flags, NetAutostart, NetNoAutostart, networks.GetAutostart(n))) continue;
                kept.Add(n);
            }
            catch (ManagerException e) when (e.Error == ManagerError.NoNetwork) { }   // gone meanwhile
        }
        return kept;
    }

    private static bool Pair(uint flags, uint yes, uint no, bool value) =>
        (flags & (yes | no)) == 0 || (value ? (flags & yes) != 0 : (flags & no) != 0);
}
