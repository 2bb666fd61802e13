using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Answers the packets of libvirt's REMOTE_PROGRAM (and keepalive's PING) by calling <see cref="IDomainDriver"/>.
/// Each procedure first decodes its args completely (a short, long or malformed payload is VIR_ERR_RPC "Unable to
/// decode message payload", like libvirtd), then runs; <see cref="ManagerException"/> becomes a remote_error with
/// its number, anything else VIR_ERR_INTERNAL_ERROR. A procedure we do not serve is VIR_ERR_NO_SUPPORT (3), the
/// code on which clients fall back to older procedures (libvirt-protocol.md §2 and §4 trap 1).
/// </summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>Decodes a call's args; the returned action runs it and writes the ret.</summary>
    private delegate Action<XdrWriter> Decoder(ref XdrReader args, RemoteCall call);

    /// <param name="WriteApi">Null for a procedure that changes nothing; else the libvirt API named when read-only access refuses it.</param>
    /// <param name="BeforeOpen">Answered before CONNECT_OPEN (AUTH_LIST, SUPPORTS_FEATURE, CONNECT_OPEN).</param>
    private sealed record Procedure(string Name, Decoder Decode, string? WriteApi, bool BeforeOpen, int ErrorDomain);

    private readonly Dictionary<int, Procedure> _procedures = [];
    private readonly HostInfo _host;
    private readonly ILogger _logger;

    public RemoteDispatcher(IDomainDriver driver, HostInfo host, ILogger logger, Storage.StorageDriver? storage = null, Networks.INetworkDriver? networks = null)
    {
        Driver = driver;
        _host = host;
        _logger = logger;
        AddConnectProcedures();
        AddDomainProcedures();
        AddTuningProcedures();
        AddLifecycleProcedures();
        AddSaveProcedures();
        AddSnapshotProcedures();
        AddEventAndConsoleProcedures();
        if (storage is not null) AddStorageProcedures(storage);
        if (networks is not null) AddNetworkProcedures(networks);
    }

    public IDomainDriver Driver { get; }

    /// <summary>The procedures answered with something other than VIR_ERR_NO_SUPPORT.</summary>
    public IEnumerable<int> Served => _procedures.Keys;

    public void Handle(RemoteSession session, RpcHeader header, byte[] payload)
    {
        if (header.Program == RpcProgram.Keepalive)
        {
            HandleKeepalive(session, header);
            return;
        }
        switch (header.Type)
        {
            case RpcMessageType.Call:
                HandleCall(session, header, payload);
                return;
            case RpcMessageType.CallWithFds:
                _logger.LogWarning("{Connection}: procedure {Procedure} called with file descriptors, which we do not take", session.Name, header.Procedure);
                SendError(session, header, new RemoteError((int)ManagerError.NoSupport, RemoteError.FromRpc, "passing file descriptors is not supported"));
                return;
            case RpcMessageType.Stream when header.Program == RpcProgram.Remote:
                HandleStream(session, header, payload);
                return;
            default:
                _logger.LogWarning("{Connection}: ignored a packet of type {Type} for program 0x{Program:x} procedure {Procedure}",
                    session.Name, (int)header.Type, header.Program, header.Procedure);
                return;
        }
    }

    private void HandleCall(RemoteSession session, RpcHeader header, byte[] payload)
    {
        if (header.Program != RpcProgram.Remote || header.Version != RpcProgram.Version)
        {
            _logger.LogWarning("{Connection}: call to unknown program 0x{Program:x} version {Version}", session.Name, header.Program, header.Version);
            SendError(session, header, new RemoteError((int)ManagerError.NoSupport, RemoteError.FromRpc,
                $"unknown program 0x{header.Program:x} version {header.Version}"));
            return;
        }
        if (!_procedures.TryGetValue(header.Procedure, out var procedure))
        {
            SendError(session, header, new RemoteError((int)ManagerError.NoSupport, RemoteError.FromRpc,
                $"this function is not supported by the connection driver: remote procedure {header.Procedure}"));
            return;
        }
        if (!session.IsOpen && !procedure.BeforeOpen)
        {
            SendError(session, header, new RemoteError((int)ManagerError.InternalError, RemoteError.FromRpc, "connection not open"));
            return;
        }
        if (procedure.WriteApi is not null && session.ReadOnly)
        {
            SendError(session, header, Denied(procedure.WriteApi, procedure.ErrorDomain));
            return;
        }

        var call = new RemoteCall(session, header);
        Action<XdrWriter> run;
        try
        {
            var reader = new XdrReader(payload);
            run = procedure.Decode(ref reader, call);
            reader.EnsureEnd();
        }
        catch (XdrException e)
        {
            _logger.LogWarning("{Connection}: {Procedure}: bad payload: {Reason}", session.Name, procedure.Name, e.Message);
            SendError(session, header, new RemoteError(RemoteError.CodeRpc, RemoteError.FromRpc, "Unable to decode message payload"));
            return;
        }

        byte[] reply;
        try
        {
            reply = RpcPacket.Build(header.Answer(RpcMessageType.Reply, RpcMessageStatus.Ok), run);
        }
        catch (Exception e)
        {
            call.OnFailure?.Invoke();
            SendError(session, header, ToRemoteError(session, procedure, e));
            return;
        }
        session.Send(reply);
        call.AfterReply?.Invoke();
    }

    private RemoteError ToRemoteError(RemoteSession session, Procedure procedure, Exception e)
    {
        switch (e)
        {
            case ManagerException m:
                int domain = m.Error == ManagerError.NoDomainSnapshot ? RemoteError.FromDomainSnapshot : procedure.ErrorDomain;
                return new RemoteError((int)m.Error, domain, m.Message);
            case XdrException x:
                _logger.LogWarning("{Connection}: {Procedure}: cannot encode the reply: {Reason}", session.Name, procedure.Name, x.Message);
                return new RemoteError((int)ManagerError.InternalError, RemoteError.FromRpc, $"cannot send the reply: {x.Message}");
            default:
                _logger.LogError(e, "{Connection}: {Procedure} failed", session.Name, procedure.Name);
                return new RemoteError((int)ManagerError.InternalError, procedure.ErrorDomain, $"internal error: {e.Message}");
        }
    }

    private void HandleKeepalive(RemoteSession session, RpcHeader header)
    {
        // We answer SUPPORTS_FEATURE(keepalive) with 0, so clients do not ping; a PING is answered all the same.
        if (header.Type == RpcMessageType.Message && header.Procedure == RpcProgram.KeepalivePing)
            session.Send(RpcPacket.Build(new RpcHeader(RpcProgram.Keepalive, RpcProgram.Version, RpcProgram.KeepalivePong,
                RpcMessageType.Message, 0, RpcMessageStatus.Ok)));
    }

    private void HandleStream(RemoteSession session, RpcHeader header, byte[] payload)
    {
        var stream = session.FindStream(header.Serial);
        if (stream is null || stream.Procedure != header.Procedure)
        {
            // A client may still send data it had queued when a console ended: not an error worth more than a line.
            _logger.LogInformation("{Connection}: stream packet for no open stream (procedure {Procedure}, serial {Serial})",
                session.Name, header.Procedure, header.Serial);
            return;
        }
        stream.Receive(header.Status, payload);
    }

    private static void SendError(RemoteSession session, RpcHeader header, RemoteError error) =>
        session.Send(RpcPacket.Build(header.Answer(RpcMessageType.Reply, RpcMessageStatus.Error), error.Encode));

    private static RemoteError Denied(string api, int domain) =>
        new((int)ManagerError.OperationDenied, domain, $"operation forbidden: read only access prevents {api}");

    private static ManagerException DeniedException(string api) =>
        new(ManagerError.OperationDenied, $"operation forbidden: read only access prevents {api}");

    /// <summary>virCheckFlags: a bit we do not know is an error, not silently ignored.</summary>
    private static void CheckFlags(uint flags, uint known, string api)
    {
        if ((flags & ~known) != 0)
            throw new ManagerException(ManagerError.InvalidArg, $"unsupported flags (0x{flags & ~known:x}) in function {api}");
    }

    // ---- registration helpers: each procedure's args decoded first, its body run later ----

    private void On(RemoteProcedure procedure, Decoder decode, string? writes = null, bool beforeOpen = false,
        int errorDomain = RemoteError.FromDomain) =>
        _procedures.Add((int)procedure, new Procedure(procedure.ToString(), decode, writes, beforeOpen, errorDomain));

    /// <summary>A procedure with no args.</summary>
    private void OnVoid(RemoteProcedure procedure, Action<XdrWriter, RemoteCall> body, string? writes = null, bool beforeOpen = false) =>
        On(procedure, (ref XdrReader _, RemoteCall call) => w => body(w, call), writes, beforeOpen);

    /// <summary>args {remote_nonnull_domain dom}.</summary>
    private void OnDomain(RemoteProcedure procedure, Action<XdrWriter, DomainRef> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var domain = RemoteWire.ReadDomain(ref r);
            return w => body(w, domain);
        }, writes);

    /// <summary>args {remote_nonnull_domain dom; unsigned int flags}.</summary>
    private void OnDomainFlags(RemoteProcedure procedure, Action<XdrWriter, DomainRef, uint> body, string? writes = null,
        int errorDomain = RemoteError.FromDomain) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var domain = RemoteWire.ReadDomain(ref r);
            uint flags = r.ReadUInt32();
            return w => body(w, domain, flags);
        }, writes, errorDomain: errorDomain);

    /// <summary>args {remote_nonnull_domain_snapshot snap; unsigned int flags}.</summary>
    private void OnSnapshotFlags(RemoteProcedure procedure, Action<XdrWriter, SnapshotRef, uint> body, string? writes = null) =>
        On(procedure, (ref XdrReader r, RemoteCall _) =>
        {
            var snapshot = RemoteWire.ReadSnapshot(ref r);
            uint flags = r.ReadUInt32();
            return w => body(w, snapshot, flags);
        }, writes, errorDomain: RemoteError.FromDomainSnapshot);
}
