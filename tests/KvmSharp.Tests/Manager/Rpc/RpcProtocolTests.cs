using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>The server against packets no well-behaved client sends, and the rules virsh cannot show us.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RpcProtocolTests : IDisposable
{
    private readonly RpcServerRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void BeforeOpenOnlyAuthListFeaturesAndOpenAreAnswered()
    {
        using var client = new RawClient(_rig.SocketPath);

        var auth = client.Call(RemoteProcedure.AuthList);
        var feature = client.Call(RemoteProcedure.ConnectSupportsFeature, w => w.WriteInt32(14));
        var list = client.Call(RemoteProcedure.ConnectListAllDomains, w => { w.WriteInt32(1); w.WriteUInt32(0); });

        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 0], auth.Payload);   // one type: REMOTE_AUTH_NONE
        Assert.Equal([0, 0, 0, 1], feature.Payload);
        var error = RawClient.Error(list);
        Assert.Equal("connection not open", error.Message);
    }

    [Fact]
    public void ErrorRepliesEchoProgramProcedureAndSerialAndUseNoSupport()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open();

        client.Send((RemoteProcedure)9999, serial: 77);
        var unknownProcedure = client.Receive()!.Value;
        client.Send((RemoteProcedure)1, program: RpcProgram.Qemu, serial: 78);
        var unknownProgram = client.Receive()!.Value;

        Assert.Equal(new RpcHeader(RpcProgram.Remote, 1, 9999, RpcMessageType.Reply, 77, RpcMessageStatus.Error), unknownProcedure.Header);
        Assert.Equal((int)ManagerError.NoSupport, RawClient.Error(unknownProcedure).Code);
        Assert.Equal(new RpcHeader(RpcProgram.Qemu, 1, 1, RpcMessageType.Reply, 78, RpcMessageStatus.Error), unknownProgram.Header);
        Assert.Equal((int)ManagerError.NoSupport, RawClient.Error(unknownProgram).Code);
    }

    [Fact]
    public void AMalformedPayloadIsUnableToDecodeAndTheConnectionLives()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open();

        var shortArgs = client.Call(RemoteProcedure.DomainLookupByName, w => w.WriteInt32(100));   // a 100-byte name, no bytes
        var longArgs = client.Call(RemoteProcedure.DomainLookupById, w => { w.WriteInt32(1); w.WriteInt32(2); });
        var lookup = client.Call(RemoteProcedure.DomainLookupByName, w => w.WriteString("web"));

        foreach (var reply in new[] { shortArgs, longArgs })
        {
            var error = RawClient.Error(reply);
            Assert.Equal((RemoteError.CodeRpc, RemoteError.FromRpc, "Unable to decode message payload"), (error.Code, error.Domain, error.Message));
        }
        var reader = new XdrReader(lookup.Payload);
        Assert.Equal(new DomainRef("web", RpcServerRig.WebUuid, 1), RemoteWire.ReadDomain(ref reader));
        Assert.Contains(_rig.Logger.Lines, l => l.Contains("DomainLookupByName: bad payload"));
    }

    [Fact]
    public void OpenWithTheReadOnlyFlagRefusesEveryChangeOnTheServerSide()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open(flags: 1);

        var define = client.Call(RemoteProcedure.DomainDefineXml, w => w.WriteString("<domain><name>x</name></domain>"));
        var create = client.Call(RemoteProcedure.DomainCreate, w => RemoteWire.WriteDomain(w, new DomainRef("db", RpcServerRig.DbUuid, -1)));
        var console = client.Call(RemoteProcedure.DomainOpenConsole, w =>
        {
            RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1));
            w.WriteOptionalString(null);
            w.WriteUInt32(0);
        });
        var info = client.Call(RemoteProcedure.DomainGetInfo, w => RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)));

        Assert.Equal("operation forbidden: read only access prevents virDomainDefineXML", RawClient.Error(define).Message);
        Assert.Equal((int)ManagerError.OperationDenied, RawClient.Error(create).Code);
        Assert.Equal("operation forbidden: read only access prevents virDomainOpenConsole", RawClient.Error(console).Message);
        Assert.Equal(RpcMessageStatus.Ok, info.Header.Status);
        Assert.Empty(_rig.Driver.Calls);
    }

    [Fact]
    public void LegacyRegistrationGetsEvent107WithSerialZeroAndOnlyLifecycleIsServed()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open(flags: 1);   // events are for read-only clients too

        var register = client.Call(RemoteProcedure.ConnectDomainEventRegisterAny, w => w.WriteInt32(0));
        var again = client.Call(RemoteProcedure.ConnectDomainEventRegisterAny, w => w.WriteInt32(0));
        var reboot = client.Call(RemoteProcedure.ConnectDomainEventCallbackRegisterAny, w => { w.WriteInt32(5); w.WritePresent(false); });
        _rig.Driver.Suspend(_rig.Driver.LookupByName("web"));
        var message = client.Receive()!.Value;
        var deregister = client.Call(RemoteProcedure.ConnectDomainEventDeregisterAny, w => w.WriteInt32(0));

        Assert.Equal(RpcMessageStatus.Ok, register.Header.Status);
        Assert.Equal("domain event 0 already registered", RawClient.Error(again).Message);
        Assert.Equal((int)ManagerError.NoSupport, RawClient.Error(reboot).Code);
        Assert.Equal(new RpcHeader(RpcProgram.Remote, 1, 107, RpcMessageType.Message, 0, RpcMessageStatus.Ok), message.Header);
        var reader = new XdrReader(message.Payload);
        Assert.Equal(new DomainRef("web", RpcServerRig.WebUuid, 1), RemoteWire.ReadDomain(ref reader));
        Assert.Equal((3, 0), (reader.ReadInt32(), reader.ReadInt32()));
        reader.EnsureEnd();
        Assert.Equal(RpcMessageStatus.Ok, deregister.Header.Status);
        Assert.Equal(0, _rig.Driver.Subscribers);
    }

    [Fact]
    public void AClosedConnectionEndsItsSubscriptionAndItsConsole()
    {
        using (var client = new RawClient(_rig.SocketPath))
        {
            client.Open();
            var register = client.Call(RemoteProcedure.ConnectDomainEventCallbackRegisterAny, w => { w.WriteInt32(0); w.WritePresent(false); });
            var console = client.Call(RemoteProcedure.DomainOpenConsole, w =>
            {
                RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1));
                w.WriteOptionalString(null);
                w.WriteUInt32(0);
            });
            var data = client.Receive()!.Value;

            Assert.Equal(RpcMessageStatus.Ok, register.Header.Status);
            Assert.Equal(RpcMessageStatus.Ok, console.Header.Status);
            Assert.Equal((RpcMessageType.Stream, RpcMessageStatus.Continue, console.Header.Serial, "login: "),
                (data.Header.Type, data.Header.Status, data.Header.Serial, System.Text.Encoding.ASCII.GetString(data.Payload)));
            Assert.Equal(1, _rig.Driver.Subscribers);
        }

        Poll.Until(() => _rig.Driver.Subscribers == 0 && _rig.Driver.Console!.Disposed, () => "the connection's subscription or console outlived it");
    }

    [Fact]
    public void ReadOnlyClientsDoNotGetSecureXml()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open(flags: 1);

        var secure = client.Call(RemoteProcedure.DomainGetXmlDesc, w => { RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)); w.WriteUInt32(1); });
        var plain = client.Call(RemoteProcedure.DomainGetXmlDesc, w => { RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)); w.WriteUInt32(0); });

        Assert.Equal("operation forbidden: read only access prevents virDomainGetXMLDesc with secure flag", RawClient.Error(secure).Message);
        Assert.Equal(RpcMessageStatus.Ok, plain.Header.Status);
    }

    [Fact]
    public void CharAndShortFieldsTakeFourBytes()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open();

        var node = client.Call(RemoteProcedure.NodeGetInfo);
        var info = client.Call(RemoteProcedure.DomainGetInfo, w => RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)));

        Assert.Equal(32 * 4 + 8 + 6 * 4, node.Payload.Length);
        Assert.Equal([0, 0, 0, (byte)'x', 0, 0, 0, (byte)'8', 0, 0, 0, (byte)'6'], node.Payload[..12]);
        var reader = new XdrReader(info.Payload);
        Assert.Equal((uint)DomainState.Running, reader.ReadUInt32());
        Assert.Equal(524288UL, reader.ReadUInt64());
        Assert.Equal(524288UL, reader.ReadUInt64());
        Assert.Equal(2u, reader.ReadUInt32());
        Assert.Equal(1_500_000_000UL, reader.ReadUInt64());
        reader.EnsureEnd();
    }

    [Fact]
    public void ADriverBugIsAnInternalErrorThatIsLogged()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open();
        _rig.Driver.GetInfoFailure = new InvalidOperationException("boom");

        var info = client.Call(RemoteProcedure.DomainGetInfo, w => RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)));

        var error = RawClient.Error(info);
        Assert.Equal((int)ManagerError.InternalError, error.Code);
        Assert.Equal("internal error: boom", error.Message);
        Assert.Contains(_rig.Logger.Lines, l => l.StartsWith("Error: ", StringComparison.Ordinal) && l.Contains("DomainGetInfo failed"));
    }

    [Fact]
    public void SnapshotErrorsComeFromTheSnapshotDomain()
    {
        using var client = new RawClient(_rig.SocketPath);
        client.Open();

        var current = client.Call(RemoteProcedure.DomainSnapshotCurrent, w => { RemoteWire.WriteDomain(w, new DomainRef("db", RpcServerRig.DbUuid, -1)); w.WriteUInt32(0); });

        var error = RawClient.Error(current);
        Assert.Equal((72, 35), (error.Code, error.Domain));
    }

    [Fact]
    public void APingIsAnsweredWithAPong()
    {
        using var client = new RawClient(_rig.SocketPath);

        client.Send((RemoteProcedure)RpcProgram.KeepalivePing, type: RpcMessageType.Message, program: RpcProgram.Keepalive, serial: 0);
        var pong = client.Receive()!.Value;

        Assert.Equal(new RpcHeader(RpcProgram.Keepalive, 1, RpcProgram.KeepalivePong, RpcMessageType.Message, 0, RpcMessageStatus.Ok), pong.Header);
        Assert.Empty(pong.Payload);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(27u)]
    [InlineData(33554433u)]
    [InlineData(uint.MaxValue)]
    public void BadFramingClosesThatConnectionOnly(uint length)
    {
        using var bad = new RawClient(_rig.SocketPath);
        using var good = new RawClient(_rig.SocketPath);
        good.Open();

        var packet = new byte[32];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(packet, length);
        bad.SendRaw(packet);

        Assert.Null(bad.Receive());
        Assert.Equal(RpcMessageStatus.Ok, good.Call(RemoteProcedure.ConnectGetType).Header.Status);
        Assert.Contains(_rig.Logger.Lines, l => l.Contains($"packet length {length} is outside 28..33554432"));
    }

    [Fact]
    public void ASlowCallOnOneConnectionDoesNotStallAnother()
    {
        using var gate = new ManualResetEventSlim();
        var slow = new BlockingDriver(_rig.Driver, gate);
        string path = Path.Combine(_rig.Directory, "slow-sock");
        using var server = RpcServer.Start(path, readOnly: false, slow, _rig.Logger);
        using var blocked = new RawClient(path);
        using var other = new RawClient(path);
        blocked.Open();
        other.Open();

        blocked.Send(RemoteProcedure.DomainGetInfo, w => RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)));
        var state = other.Call(RemoteProcedure.DomainGetState, w => { RemoteWire.WriteDomain(w, new DomainRef("web", RpcServerRig.WebUuid, 1)); w.WriteUInt32(0); });
        gate.Set();
        var info = blocked.Receive()!.Value;

        Assert.Equal(RpcMessageStatus.Ok, state.Header.Status);
        Assert.Equal((RpcMessageType.Reply, RpcMessageStatus.Ok), (info.Header.Type, info.Header.Status));
    }

    /// <summary>GetInfo waits for a gate; everything else goes to the double.</summary>
    private sealed class BlockingDriver(FakeDomainDriver inner, ManualResetEventSlim gate) : IDomainDriver
    {
        public DomainInfo GetInfo(DomainRef domain)
        {
            gate.Wait(TimeSpan.FromSeconds(20));
            return inner.GetInfo(domain);
        }

        public IReadOnlyList<DomainRef> ListDomains() => inner.ListDomains();
        public DomainRef LookupByName(string name) => inner.LookupByName(name);
        public DomainRef LookupByUuid(Guid uuid) => inner.LookupByUuid(uuid);
        public DomainRef LookupById(int id) => inner.LookupById(id);
        public DomainStateAndReason GetState(DomainRef domain) => inner.GetState(domain);
        public string GetXml(DomainRef domain, uint flags) => inner.GetXml(domain, flags);
        public bool IsActive(DomainRef domain) => inner.IsActive(domain);
        public bool IsPersistent(DomainRef domain) => inner.IsPersistent(domain);
        public bool GetAutostart(DomainRef domain) => inner.GetAutostart(domain);
        public void SetAutostart(DomainRef domain, bool autostart) => inner.SetAutostart(domain, autostart);
        public IReadOnlyList<VcpuInfo> GetVcpus(DomainRef domain) => inner.GetVcpus(domain);
        public DomainRef Define(string xml, uint flags) => inner.Define(xml, flags);
        public void Undefine(DomainRef domain, uint flags) => inner.Undefine(domain, flags);
        public DomainRef Start(DomainRef domain, uint flags) => inner.Start(domain, flags);
        public void Shutdown(DomainRef domain, uint flags) => inner.Shutdown(domain, flags);
        public void Destroy(DomainRef domain, uint flags) => inner.Destroy(domain, flags);
        public void Reboot(DomainRef domain, uint flags) => inner.Reboot(domain, flags);
        public void Suspend(DomainRef domain) => inner.Suspend(domain);
        public void Resume(DomainRef domain) => inner.Resume(domain);
        public void Save(DomainRef domain, string path, string? xml, uint flags) => inner.Save(domain, path, xml, flags);
        public void Restore(string path, string? xml, uint flags) => inner.Restore(path, xml, flags);
        public void ManagedSave(DomainRef domain, uint flags) => inner.ManagedSave(domain, flags);
        public bool HasManagedSave(DomainRef domain) => inner.HasManagedSave(domain);
        public void RemoveManagedSave(DomainRef domain) => inner.RemoveManagedSave(domain);
        public SnapshotRef CreateSnapshot(DomainRef domain, string xml, uint flags) => inner.CreateSnapshot(domain, xml, flags);
        public IReadOnlyList<SnapshotRef> ListSnapshots(DomainRef domain, uint flags) => inner.ListSnapshots(domain, flags);
        public SnapshotRef LookupSnapshot(DomainRef domain, string name) => inner.LookupSnapshot(domain, name);
        public string GetSnapshotXml(SnapshotRef snapshot, uint flags) => inner.GetSnapshotXml(snapshot, flags);
        public SnapshotRef? CurrentSnapshot(DomainRef domain) => inner.CurrentSnapshot(domain);
        public SnapshotRef? SnapshotParent(SnapshotRef snapshot) => inner.SnapshotParent(snapshot);
        public void RevertToSnapshot(SnapshotRef snapshot, uint flags) => inner.RevertToSnapshot(snapshot, flags);
        public void DeleteSnapshot(SnapshotRef snapshot, uint flags) => inner.DeleteSnapshot(snapshot, flags);
        public IConsoleSession OpenConsole(DomainRef domain, string? device, uint flags, IConsoleSink sink) => inner.OpenConsole(domain, device, flags, sink);
        public IDisposable SubscribeLifecycle(Action<DomainLifecycleEvent> handler) => inner.SubscribeLifecycle(handler);
    }
}
