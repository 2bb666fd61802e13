using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Defining and running domains. virsh without options calls the old flag-less procedure of each pair
/// (11, 35, 9, 33, 12), with options the newer one (350, 231, 196, 258, 234): both are served (libvirt-protocol.md §4 trap 2).
/// </summary>
internal sealed partial class RemoteDispatcher
{
    private void AddLifecycleProcedures()
    {
        On(RemoteProcedure.DomainDefineXml, (ref args, _) =>
        {
            string xml = args.ReadString();
            return w => RemoteWire.WriteDomain(w, Driver.Define(xml, 0));
        }, writes: "virDomainDefineXML");
        On(RemoteProcedure.DomainDefineXmlFlags, (ref args, _) =>
        {
            string xml = args.ReadString();
            uint flags = args.ReadUInt32();
            return w => RemoteWire.WriteDomain(w, Driver.Define(xml, flags));
        }, writes: "virDomainDefineXMLFlags");

        OnDomainFlags(RemoteProcedure.DomainUndefineFlags, (_, domain, flags) => Driver.Undefine(domain, flags), writes: "virDomainUndefineFlags");
        OnDomain(RemoteProcedure.DomainUndefine, (_, domain) => Driver.Undefine(domain, 0), writes: "virDomainUndefine");

        // CREATE returns nothing: the client library then reads the new id with LOOKUP_BY_UUID.
        OnDomain(RemoteProcedure.DomainCreate, (_, domain) => Driver.Start(domain, 0), writes: "virDomainCreate");
        OnDomainFlags(RemoteProcedure.DomainCreateWithFlags, (w, domain, flags) => RemoteWire.WriteDomain(w, Driver.Start(domain, flags)),
            writes: "virDomainCreateWithFlags");

        OnDomain(RemoteProcedure.DomainShutdown, (_, domain) => Driver.Shutdown(domain, 0), writes: "virDomainShutdown");
        OnDomainFlags(RemoteProcedure.DomainShutdownFlags, (_, domain, flags) => Driver.Shutdown(domain, flags), writes: "virDomainShutdownFlags");
        OnDomain(RemoteProcedure.DomainDestroy, (_, domain) => Driver.Destroy(domain, 0), writes: "virDomainDestroy");
        OnDomainFlags(RemoteProcedure.DomainDestroyFlags, (_, domain, flags) => Driver.Destroy(domain, flags), writes: "virDomainDestroyFlags");
        OnDomainFlags(RemoteProcedure.DomainReboot, (_, domain, flags) => Driver.Reboot(domain, flags), writes: "virDomainReboot");
        OnDomain(RemoteProcedure.DomainSuspend, (_, domain) => Driver.Suspend(domain), writes: "virDomainSuspend");
        OnDomain(RemoteProcedure.DomainResume, (_, domain) => Driver.Resume(domain), writes: "virDomainResume");
    }
}
