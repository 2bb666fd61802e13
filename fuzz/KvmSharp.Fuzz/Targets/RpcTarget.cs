using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;
using KvmSharp.Tests.Manager.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmSharp.Fuzz.Targets;

/// <summary>
/// libvirt's remote protocol as kvmsharpd reads it from a client: the input is the byte stream of one connection,
/// cut into packets by RpcPacket.Read, each handed to RemoteDispatcher.Handle as RpcConnection does, over the tests'
/// FakeDomainDriver (so a fuzzed call reaches the XDR decoding and the dispatcher's checks, never a real VMM or host
/// file; storage and network procedures, which touch host folders and links, are left to their XML targets).
/// Expected: RpcFramingException and XdrException (bad framing, which closes the connection); anything escaping
/// Handle is a bug (the connection would close with "unexpected failure").
/// </summary>
public sealed class RpcTarget : FuzzTarget
{
    private static readonly Guid WebUuid = Guid.Parse("11111111-2222-3333-4444-555555555555");
    private FakeDomainDriver? _driver;
    private RemoteDispatcher? _dispatcher;

    /// <summary>Made on first use: instrumented code must not run before SharpFuzz has set up its coverage map.</summary>
    private (FakeDomainDriver Driver, RemoteDispatcher Dispatcher) Server()
    {
        if (_driver is null || _dispatcher is null)
        {
            _driver = new FakeDomainDriver();
            _driver.Add("web", WebUuid, DomainState.Running);
            _driver.Add("db", Guid.Parse("0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c"));
            _dispatcher = new RemoteDispatcher(_driver, HostInfo.Read(), NullLogger.Instance);
        }
        return (_driver, _dispatcher);
    }

    public override string Name => "rpc";
    public override string Description => "libvirt RPC packets: framing, header, XDR args of every procedure (Manager/Rpc)";
    public override bool IsExpected(Exception exception) => exception is RpcFramingException or XdrException;

    public override void Run(ReadOnlySpan<byte> input)
    {
        var (driver, dispatcher) = Server();
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        using var sender = new PacketSender(Stream.Null, "fuzz", _ => { });
        using var session = new RemoteSession(sender, driver, NullLogger.Instance, "fuzz", readOnlySocket: false);
        while (RpcPacket.Read(stream) is { } packet)
            dispatcher.Handle(session, packet.Header, packet.Payload);
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        var web = new DomainRef("web", WebUuid, 1);
        var open = Call(RemoteProcedure.ConnectOpen, 1, w => { w.WriteOptionalString("qemu:///system"); w.WriteUInt32(0); });
        yield return new("open-list-lookup", Join(open,
            Call(RemoteProcedure.ConnectListAllDomains, 2, w => { w.WriteInt32(1); w.WriteUInt32(3); }),
            Call(RemoteProcedure.DomainLookupByName, 3, w => w.WriteString("web")),
            Call(RemoteProcedure.DomainGetInfo, 4, w => RemoteWire.WriteDomain(w, web))));
        yield return new("define-xml", Join(open,
            Call(RemoteProcedure.DomainDefineXml, 2, w => w.WriteString("<domain type='kvm'><name>fuzz</name></domain>")),
            Call(RemoteProcedure.DomainGetXmlDesc, 3, w => { RemoteWire.WriteDomain(w, web); w.WriteUInt32(0); })));
        yield return new("console-stream", Join(open,
            Call(RemoteProcedure.DomainOpenConsole, 2, w => { RemoteWire.WriteDomain(w, web); w.WriteOptionalString(null); w.WriteUInt32(0); }),
            RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 201, RpcMessageType.Stream, 2, RpcMessageStatus.Continue), "ls\n"u8),
            RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 201, RpcMessageType.Stream, 2, RpcMessageStatus.Ok))));
        yield return new("events-keepalive", Join(open,
            Call(RemoteProcedure.ConnectDomainEventCallbackRegisterAny, 2, w => { w.WriteInt32(0); w.WritePresent(false); }),
            RpcPacket.Build(new RpcHeader(RpcProgram.Keepalive, 1, 1, RpcMessageType.Message, 0, RpcMessageStatus.Ok))));
    }

    private static byte[] Call(RemoteProcedure procedure, uint serial, Action<XdrWriter> args) =>
        RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, (int)procedure, RpcMessageType.Call, serial, RpcMessageStatus.Ok), args);

    private static byte[] Join(params byte[][] packets) => [.. packets.SelectMany(p => p)];
}
