using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;

namespace KvmSharp.Manager.Rpc;

/// <summary>Listing, looking up and inspecting domains (list, dominfo, domstate, dumpxml, vcpuinfo; libvirt-protocol.md §3).</summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>VIR_DOMAIN_XML_SECURE, INACTIVE, UPDATE_CPU, MIGRATABLE.</summary>
    private const uint XmlSecure = 1, XmlFlagsKnown = 15;

    /// <summary>VIR_DOMAIN_AFFECT_LIVE, AFFECT_CONFIG, VCPU_MAXIMUM: without hotplug every count is the same.</summary>
    private const uint VcpuFlagsKnown = 7;

    private void AddDomainProcedures()
    {
        // args {int need_results; uint flags}; ret {remote_nonnull_domain domains<>; uint ret}.
        On(RemoteProcedure.ConnectListAllDomains, (ref args, _) =>
        {
            bool needResults = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                var domains = DomainListFilter.Apply(Driver, flags);
                if (domains.Count > RemoteLimits.DomainListMax)
                    throw new ManagerException(ManagerError.InternalError, $"too many domains ({domains.Count}) for one reply");
                w.WriteCount(needResults ? domains.Count : 0, RemoteLimits.DomainListMax);
                if (needResults) foreach (var domain in domains) RemoteWire.WriteDomain(w, domain);
                w.WriteUInt32((uint)domains.Count);
            };
        });

        // The calls older clients fall back to when LIST_ALL is not supported (virshDomainListCollect).
        OnVoid(RemoteProcedure.ConnectNumOfDomains, (w, _) => w.WriteInt32(DomainListFilter.Apply(Driver, DomainListFilter.Active).Count));
        OnVoid(RemoteProcedure.ConnectNumOfDefinedDomains, (w, _) => w.WriteInt32(DomainListFilter.Apply(Driver, DomainListFilter.Inactive).Count));
        On(RemoteProcedure.ConnectListDomains, (ref args, _) =>
        {
            int max = args.ReadInt32();
            return w =>
            {
                CheckListMax(max, RemoteLimits.DomainIdListMax, "maxids");
                var ids = DomainListFilter.Apply(Driver, DomainListFilter.Active).Take(max).ToList();
                w.WriteCount(ids.Count, RemoteLimits.DomainIdListMax);
                foreach (var domain in ids) w.WriteInt32(domain.Id);
            };
        });
        On(RemoteProcedure.ConnectListDefinedDomains, (ref args, _) =>
        {
            int max = args.ReadInt32();
            return w =>
            {
                CheckListMax(max, RemoteLimits.DomainNameListMax, "maxnames");
                var names = DomainListFilter.Apply(Driver, DomainListFilter.Inactive).Take(max).ToList();
                w.WriteCount(names.Count, RemoteLimits.DomainNameListMax);
                foreach (var domain in names) w.WriteString(domain.Name);
            };
        });

        // Lookups: ret {remote_nonnull_domain dom}. `virsh start` needs BY_UUID to learn the new id.
        On(RemoteProcedure.DomainLookupById, (ref args, _) =>
        {
            int id = args.ReadInt32();
            return w => RemoteWire.WriteDomain(w, Driver.LookupById(id));
        });
        On(RemoteProcedure.DomainLookupByName, (ref args, _) =>
        {
            string name = args.ReadString();
            return w => RemoteWire.WriteDomain(w, Driver.LookupByName(name));
        });
        On(RemoteProcedure.DomainLookupByUuid, (ref args, _) =>
        {
            Guid uuid = args.ReadUuid();
            return w => RemoteWire.WriteDomain(w, Driver.LookupByUuid(uuid));
        });

        // ret {unsigned char state; uhyper maxMem; uhyper memory; unsigned short nrVirtCpu; uhyper cpuTime}: char and short take 4 bytes.
        OnDomain(RemoteProcedure.DomainGetInfo, (w, domain) =>
        {
            var info = Driver.GetInfo(domain);
            w.WriteUInt32((uint)info.State);
            w.WriteUInt64(info.MaxMemoryKib);
            w.WriteUInt64(info.MemoryKib);
            w.WriteUInt32((uint)Math.Clamp(info.VcpuCount, 0, ushort.MaxValue));
            w.WriteUInt64(info.CpuTimeNs);
        });

        OnDomainFlags(RemoteProcedure.DomainGetState, (w, domain, flags) =>
        {
            CheckFlags(flags, 0, "virDomainGetState");
            var state = Driver.GetState(domain);
            w.WriteInt32((int)state.State);
            w.WriteInt32(state.Reason);
        });

        On(RemoteProcedure.DomainGetXmlDesc, (ref args, call) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, XmlFlagsKnown, "virDomainGetXMLDesc");
                // libvirt refuses secure information (passwords) to read-only clients.
                if ((flags & XmlSecure) != 0 && call.Session.ReadOnly) throw DeniedException("virDomainGetXMLDesc with secure flag");
                w.WriteString(Driver.GetXml(domain, flags));
            };
        });

        OnDomain(RemoteProcedure.DomainGetOsType, (w, domain) =>
        {
            Driver.LookupByUuid(domain.Uuid);   // an unknown domain is still VIR_ERR_NO_DOMAIN
            w.WriteString("hvm");
        });
        OnDomain(RemoteProcedure.DomainIsActive, (w, domain) => w.WriteInt32(Driver.IsActive(domain) ? 1 : 0));
        OnDomain(RemoteProcedure.DomainIsPersistent, (w, domain) => w.WriteInt32(Driver.IsPersistent(domain) ? 1 : 0));
        OnDomain(RemoteProcedure.DomainGetAutostart, (w, domain) => w.WriteInt32(Driver.GetAutostart(domain) ? 1 : 0));
        On(RemoteProcedure.DomainSetAutostart, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int autostart = args.ReadInt32();
            return _ => Driver.SetAutostart(domain, autostart != 0);
        }, writes: "virDomainSetAutostart");

        OnDomainFlags(RemoteProcedure.DomainHasManagedSaveImage, (w, domain, flags) =>
        {
            CheckFlags(flags, 0, "virDomainHasManagedSaveImage");
            w.WriteInt32(Driver.HasManagedSave(domain) ? 1 : 0);
        });

        // ret {remote_nonnull_string msgs<>}: we keep no taint or deprecation messages.
        OnDomainFlags(RemoteProcedure.DomainGetMessages, (w, domain, flags) =>
        {
            CheckFlags(flags, 3, "virDomainGetMessages");
            Driver.LookupByUuid(domain.Uuid);
            w.WriteCount(0, RemoteLimits.DomainMessagesMax);
        });

        // args {dom; int maxinfo; int maplen}; ret {remote_vcpu_info info<>; opaque cpumaps<>} (the daemon's checks kept).
        On(RemoteProcedure.DomainGetVcpus, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int maxInfo = args.ReadInt32();
            int mapLength = args.ReadInt32();
            return w =>
            {
                CheckMaps(maxInfo, mapLength);
                var vcpus = Driver.GetVcpus(domain);
                int count = Math.Min(vcpus.Count, maxInfo);
                w.WriteCount(count, RemoteLimits.VcpuInfoMax);
                for (int i = 0; i < count; i++) RemoteWire.WriteVcpuInfo(w, vcpus[i]);
                w.WriteOpaque(CpuMaps(maxInfo, count, mapLength), RemoteLimits.CpuMapsMax);
            };
        });

        OnDomainFlags(RemoteProcedure.DomainGetVcpusFlags, (w, domain, flags) =>
        {
            CheckFlags(flags, VcpuFlagsKnown, "virDomainGetVcpusFlags");
            w.WriteInt32(Driver.GetInfo(domain).VcpuCount);
        });

        // args {dom; int ncpumaps; int maplen; uint flags}; ret {opaque cpumaps<>; int num}: no pinning, every vCPU may run anywhere.
        On(RemoteProcedure.DomainGetVcpuPinInfo, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int maps = args.ReadInt32();
            int mapLength = args.ReadInt32();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 3, "virDomainGetVcpuPinInfo");
                CheckMaps(maps, mapLength);
                int count = Math.Min(Driver.GetInfo(domain).VcpuCount, maps);
                w.WriteOpaque(CpuMaps(maps, count, mapLength), RemoteLimits.CpuMapsMax);
                w.WriteInt32(count);
            };
        });
    }

    private static void CheckListMax(int max, int limit, string what)
    {
        if (max < 0 || max > limit) throw new ManagerException(ManagerError.InvalidArg, $"{what} {max} is outside 0..{limit}");
    }

    /// <summary>The daemon's bounds on a cpumaps request: maxinfo ≤ REMOTE_VCPUINFO_MAX, maxinfo × maplen ≤ REMOTE_CPUMAPS_MAX.</summary>
    private static void CheckMaps(int maps, int mapLength)
    {
        if (maps < 0 || maps > RemoteLimits.VcpuInfoMax)
            throw new ManagerException(ManagerError.InvalidArg, $"vCPU count {maps} is outside 0..{RemoteLimits.VcpuInfoMax}");
        if (mapLength <= 0 || (long)maps * mapLength > RemoteLimits.CpuMapsMax)
            throw new ManagerException(ManagerError.InvalidArg, $"CPU maps of {maps} x {mapLength} bytes are outside 1..{RemoteLimits.CpuMapsMax} bytes");
    }

    /// <summary><paramref name="maps"/> maps of <paramref name="mapLength"/> bytes; the first <paramref name="used"/> allow every host CPU.</summary>
    private byte[] CpuMaps(int maps, int used, int mapLength)
    {
        var all = AllCpusMap(_host.Cpus, mapLength);
        var cpumaps = new byte[maps * mapLength];
        for (int i = 0; i < used; i++) all.CopyTo(cpumaps, i * mapLength);
        return cpumaps;
    }
}
