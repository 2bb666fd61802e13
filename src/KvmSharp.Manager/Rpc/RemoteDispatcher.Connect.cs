using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;

namespace KvmSharp.Manager.Rpc;

/// <summary>The connection and the host: the procedures of libvirt-protocol.md §2 and "info" and "vcpuinfo" of §4 tier B.</summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>VIR_DRV_FEATURE_* (src/libvirt_internal.h) whose answer chooses a client's code path.</summary>
    private const int FeatureTypedParamString = 9, FeatureProgramKeepalive = 10, FeatureRemoteEventCallback = 14, FeatureRemoteCloseCallback = 15;

    /// <summary>VIR_CONNECT_RO and VIR_CONNECT_NO_ALIASES.</summary>
    private const uint ConnectReadOnly = 1, ConnectFlagsKnown = 3;

    private const int RemoteAuthNone = 0;
    private const string DefaultUri = "qemu:///system";

    /// <summary>What CONNECT_GET_TYPE says: virsh version prints "Using API: KvmSharp …".</summary>
    public const string HypervisorType = "KvmSharp";

    /// <summary>Our version as libvirt encodes versions: major * 1,000,000 + minor * 1,000 + micro.</summary>
    public static ulong Version
    {
        get
        {
            var v = typeof(RemoteDispatcher).Assembly.GetName().Version ?? new Version(0, 0, 0);
            return (ulong)Math.Max(0, v.Major) * 1_000_000 + (ulong)Math.Clamp(v.Minor, 0, 999) * 1_000 + (ulong)Math.Clamp(v.Build, 0, 999);
        }
    }

    private void AddConnectProcedures()
    {
        // ret {remote_auth_type types<REMOTE_AUTH_TYPE_LIST_MAX>}: no authentication beyond the socket's mode.
        OnVoid(RemoteProcedure.AuthList, (w, _) =>
        {
            w.WriteCount(1, RemoteLimits.AuthTypeListMax);
            w.WriteInt32(RemoteAuthNone);
        }, beforeOpen: true);

        On(RemoteProcedure.ConnectSupportsFeature, (ref args, _) =>
        {
            int feature = args.ReadInt32();
            return w => w.WriteInt32(feature switch
            {
                FeatureRemoteEventCallback => 1,   // server-side filtering by domain, callback ids (316/317/318)
                FeatureTypedParamString => 1,
                FeatureProgramKeepalive => 0,      // virsh then never pings (but a PING is still answered)
                FeatureRemoteCloseCallback => 0,   // so virsh does not register one
                _ => 0,
            });
        }, beforeOpen: true);

        On(RemoteProcedure.ConnectOpen, (ref args, call) =>
        {
            string? name = args.ReadOptionalString();
            uint flags = args.ReadUInt32();
            return _ =>
            {
                CheckFlags(flags, ConnectFlagsKnown, "virConnectOpen");
                if (call.Session.IsOpen) throw new ManagerException(ManagerError.OperationInvalid, "the connection is already open");
                call.Session.Open(name, (flags & ConnectReadOnly) != 0);
            };
        }, beforeOpen: true);

        OnVoid(RemoteProcedure.ConnectClose, (_, call) => call.Session.Close());
        OnVoid(RemoteProcedure.ConnectRegisterCloseCallback, (_, _) => { });
        OnVoid(RemoteProcedure.ConnectUnregisterCloseCallback, (_, _) => { });

        OnVoid(RemoteProcedure.ConnectGetType, (w, _) => w.WriteString(HypervisorType));
        OnVoid(RemoteProcedure.ConnectGetVersion, (w, _) => w.WriteUInt64(Version));
        OnVoid(RemoteProcedure.ConnectGetLibVersion, (w, _) => w.WriteUInt64(Version));
        OnVoid(RemoteProcedure.ConnectGetHostname, (w, _) => w.WriteString(Environment.MachineName));
        OnVoid(RemoteProcedure.ConnectGetUri, (w, call) => w.WriteString(call.Session.Uri ?? DefaultUri));
        OnVoid(RemoteProcedure.ConnectGetCapabilities, (w, _) => w.WriteString(HostCapabilities.Build(_host)));

        // ret {char model[32]; uhyper memory; int cpus, mhz, nodes, sockets, cores, threads}: model is 32 chars of 4 bytes.
        OnVoid(RemoteProcedure.NodeGetInfo, (w, _) =>
        {
            Span<byte> model = stackalloc byte[RemoteLimits.NodeModelChars];
            System.Text.Encoding.ASCII.GetBytes(_host.Model.AsSpan(0, Math.Min(_host.Model.Length, model.Length - 1)), model);
            RemoteWire.WriteChars(w, model);
            w.WriteUInt64(_host.MemoryKib);
            w.WriteInt32(_host.Cpus);
            w.WriteInt32(_host.Mhz);
            w.WriteInt32(_host.Nodes);
            w.WriteInt32(_host.Sockets);
            w.WriteInt32(_host.Cores);
            w.WriteInt32(_host.Threads);
        });

        // args {int need_map; int need_online; uint flags}; ret {opaque cpumap<>; uint online; int ret}: every CPU online.
        On(RemoteProcedure.NodeGetCpuMap, (ref args, _) =>
        {
            bool needMap = args.ReadInt32() != 0;
            bool needOnline = args.ReadInt32() != 0;
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, 0, "virNodeGetCPUMap");
                w.WriteOpaque(needMap ? AllCpusMap(_host.Cpus, (_host.Cpus + 7) / 8) : [], RemoteLimits.CpuMapMax);
                w.WriteUInt32(needOnline ? (uint)_host.Cpus : 0);
                w.WriteInt32(_host.Cpus);
            };
        });

        // ret {char model<>; char doi<>}: no security driver, so dominfo skips GET_SECURITY_LABEL.
        OnVoid(RemoteProcedure.NodeGetSecurityModel, (w, _) =>
        {
            w.WriteCount(0, RemoteLimits.SecurityModelMax);
            w.WriteCount(0, RemoteLimits.SecurityDoiMax);
        });
    }

    /// <summary>A CPU bitmap (bit i of byte i/8 for CPU i) of <paramref name="bytes"/> bytes with the first <paramref name="cpus"/> bits set.</summary>
    private static byte[] AllCpusMap(int cpus, int bytes)
    {
        var map = new byte[bytes];
        for (int cpu = 0; cpu < cpus && cpu / 8 < bytes; cpu++) map[cpu / 8] |= (byte)(1 << (cpu % 8));
        return map;
    }
}
