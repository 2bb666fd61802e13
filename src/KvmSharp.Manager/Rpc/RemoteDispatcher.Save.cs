using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;

namespace KvmSharp.Manager.Rpc;

/// <summary>save, restore and managedsave (libvirt-protocol.md §3): the state to a file the client names, or to the domain's own.</summary>
internal sealed partial class RemoteDispatcher
{
    private void AddSaveProcedures()
    {
        On(RemoteProcedure.DomainSave, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            string to = args.ReadString();
            return _ => Driver.Save(domain, to, null, 0);
        }, writes: "virDomainSave");
        On(RemoteProcedure.DomainSaveFlags, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            string to = args.ReadString();
            string? xml = args.ReadOptionalString();
            uint flags = args.ReadUInt32();
            return _ => Driver.Save(domain, to, xml, flags);
        }, writes: "virDomainSaveFlags");

        On(RemoteProcedure.DomainRestore, (ref args, _) =>
        {
            string from = args.ReadString();
            return _ => Driver.Restore(from, null, 0);
        }, writes: "virDomainRestore");
        On(RemoteProcedure.DomainRestoreFlags, (ref args, _) =>
        {
            string from = args.ReadString();
            string? xml = args.ReadOptionalString();
            uint flags = args.ReadUInt32();
            return _ => Driver.Restore(from, xml, flags);
        }, writes: "virDomainRestoreFlags");

        OnDomainFlags(RemoteProcedure.DomainManagedSave, (_, domain, flags) => Driver.ManagedSave(domain, flags), writes: "virDomainManagedSave");
        OnDomainFlags(RemoteProcedure.DomainManagedSaveRemove, (_, domain, flags) =>
        {
            CheckFlags(flags, 0, "virDomainManagedSaveRemove");
            Driver.RemoveManagedSave(domain);
        }, writes: "virDomainManagedSaveRemove");
    }
}
