using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// virsh memtune, schedinfo and domstats: typed parameters (remote_typed_param: a name, then a union whose int
/// discriminant is virTypedParameterType). The get calls are "call-by-reference" on nparams: asked with 0, they
/// answer only how many there are; asked with n, the first n.
/// </summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX, REMOTE_DOMAIN_SCHEDULER_PARAMETERS_MAX, REMOTE_CONNECT_GET_ALL_DOMAIN_STATS_MAX.</summary>
    private const int MemoryParametersMax = 16, SchedulerParametersMax = 16, DomainStatsMax = 262144;

    /// <summary>
    /// VIR_DOMAIN_AFFECT_LIVE 1, AFFECT_CONFIG 2 (the same here: limits change only through the XML), and
    /// VIR_TYPED_PARAM_STRING_OKAY 4, which virsh always sends (we answer no strings anyway).
    /// </summary>
    private const uint AffectFlagsKnown = 7;

    /// <summary>virConnectGetAllDomainStatsFlags: the list filters (as ListAllDomains') and NOWAIT, BACKING, ENFORCE_STATS.</summary>
    private const uint StatsFilterFlags = 0xFF, StatsFlagsKnown = StatsFilterFlags | (1u << 29) | (1u << 30) | (1u << 31), StatsEnforce = 1u << 31;

    private void AddTuningProcedures()
    {
        // args {dom; int nparams; uint flags}; ret {remote_typed_param params<16>; int nparams}.
        On(RemoteProcedure.DomainGetMemoryParameters, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int wanted = args.ReadInt32();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, AffectFlagsKnown, "virDomainGetMemoryParameters");
                var parameters = Driver.GetMemoryParameters(domain);
                WriteParameters(w, wanted, parameters, MemoryParametersMax);
                w.WriteInt32(parameters.Count);
            };
        });

        // args {dom}; ret {string type; int nparams}: the CFS scheduler is libvirt's "posix".
        OnDomain(RemoteProcedure.DomainGetSchedulerType, (w, domain) =>
        {
            w.WriteString("posix");
            w.WriteInt32(Driver.GetSchedulerParameters(domain).Count);
        });

        // args {dom; int nparams}; ret {remote_typed_param params<16>}.
        On(RemoteProcedure.DomainGetSchedulerParameters, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int wanted = args.ReadInt32();
            return w => WriteParameters(w, wanted, Driver.GetSchedulerParameters(domain), SchedulerParametersMax);
        });

        // args {dom; int nparams; uint flags}; ret {remote_typed_param params<16>}.
        On(RemoteProcedure.DomainGetSchedulerParametersFlags, (ref args, _) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            int wanted = args.ReadInt32();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, AffectFlagsKnown, "virDomainGetSchedulerParametersFlags");
                WriteParameters(w, wanted, Driver.GetSchedulerParameters(domain), SchedulerParametersMax);
            };
        });

        // args {remote_nonnull_domain doms<16384>; uint stats; uint flags}; ret {remote_domain_stats_record retStats<16384>},
        // a record being {dom; remote_typed_param params<262144>}. No domains named: every domain the filter flags let through.
        On(RemoteProcedure.ConnectGetAllDomainStats, (ref args, _) =>
        {
            int count = args.ReadCount(RemoteLimits.DomainListMax, minElementBytes: 24);
            var domains = new List<DomainRef>(count);
            for (int i = 0; i < count; i++) domains.Add(RemoteWire.ReadDomain(ref args));
            uint groups = args.ReadUInt32();
            uint flags = args.ReadUInt32();
            return w =>
            {
                CheckFlags(flags, StatsFlagsKnown, "virConnectGetAllDomainStats");
                // Without ENFORCE_STATS libvirt leaves out the groups it lacks rather than failing.
                uint asked = (flags & StatsEnforce) != 0 ? groups : groups & ManagedDomain.StatsSupported;
                if (groups != 0 && asked == 0) asked = ManagedDomain.StatsState;
                var targets = count > 0 ? domains : DomainListFilter.Apply(Driver, flags & StatsFilterFlags);
                var records = Driver.GetStats(targets, asked);
                w.WriteCount(records.Count, RemoteLimits.DomainListMax);
                foreach (var record in records)
                {
                    RemoteWire.WriteDomain(w, record.Domain);
                    w.WriteCount(record.Parameters.Count, DomainStatsMax);
                    foreach (var parameter in record.Parameters) WriteParameter(w, parameter);
                }
            };
        });
    }

    private static void WriteParameters(XdrWriter w, int wanted, IReadOnlyList<TypedParameter> parameters, int max)
    {
        if (wanted < 0 || wanted > max)
            throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: nparams {wanted} is out of range [0, {max}]");
        int n = Math.Min(wanted, parameters.Count);
        w.WriteCount(n, max);
        for (int i = 0; i < n; i++) WriteParameter(w, parameters[i]);
    }

    /// <summary>remote_typed_param: {remote_nonnull_string field; union value switch (int type)}.</summary>
    private static void WriteParameter(XdrWriter w, TypedParameter parameter)
    {
        w.WriteString(parameter.Field, 80);   // VIR_TYPED_PARAM_FIELD_LENGTH
        w.WriteInt32((int)parameter.Type);
        switch (parameter.Type)
        {
            case TypedParameterType.Int: w.WriteInt32((int)parameter.Value); break;
            case TypedParameterType.UInt: w.WriteUInt32((uint)parameter.Value); break;
            case TypedParameterType.LLong: w.WriteInt64(parameter.Value); break;
            case TypedParameterType.ULLong: w.WriteUInt64(unchecked((ulong)parameter.Value)); break;
            case TypedParameterType.Boolean: w.WriteInt32(parameter.Value != 0 ? 1 : 0); break;
            default: throw new ManagerException(ManagerError.InternalError, $"internal error: typed parameter {parameter.Field} of type {parameter.Type}");
        }
    }
}
