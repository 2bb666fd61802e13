using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc.Remote;

/// <summary>
/// The structures of remote_protocol.x shared by many procedures, written from the layouts in
/// /work/shared/docs/libvirt-protocol.md §1: remote_nonnull_domain {name; uuid[16]; id},
/// remote_nonnull_domain_snapshot {name; dom}, remote_vcpu_info {uint number; int state; uhyper cpu_time; int cpu}.
/// </summary>
public static class RemoteWire
{
    public static DomainRef ReadDomain(ref XdrReader reader)
    {
        string name = reader.ReadString();
        Guid uuid = reader.ReadUuid();
        int id = reader.ReadInt32();
        return new DomainRef(name, uuid, id);
    }

    public static void WriteDomain(XdrWriter writer, DomainRef domain)
    {
        writer.WriteString(domain.Name);
        writer.WriteUuid(domain.Uuid);
        writer.WriteInt32(domain.Id);
    }

    /// <summary><c>remote_domain</c>: an optional domain (an event registration's filter).</summary>
    public static DomainRef? ReadOptionalDomain(ref XdrReader reader) => reader.ReadPresent() ? ReadDomain(ref reader) : null;

    public static SnapshotRef ReadSnapshot(ref XdrReader reader)
    {
        string name = reader.ReadString();
        return new SnapshotRef(name, ReadDomain(ref reader));
    }

    public static void WriteSnapshot(XdrWriter writer, SnapshotRef snapshot)
    {
        writer.WriteString(snapshot.Name);
        WriteDomain(writer, snapshot.Domain);
    }

    public static void WriteVcpuInfo(XdrWriter writer, VcpuInfo info)
    {
        writer.WriteUInt32(info.Number);
        writer.WriteInt32(info.State);
        writer.WriteUInt64(info.CpuTimeNs);
        writer.WriteInt32(info.Cpu);
    }

    /// <summary>A <c>char x&lt;max&gt;</c> or <c>char x[n]</c> element: rpcgen's xdr_char takes 4 bytes per char.</summary>
    public static void WriteChars(XdrWriter writer, ReadOnlySpan<byte> chars)
    {
        foreach (byte c in chars) writer.WriteInt32((sbyte)c);
    }
}
