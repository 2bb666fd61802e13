using System.Net.Sockets;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>Random and mutated packets over many connections (seeded, so a failure repeats); a fresh virsh must work afterwards.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RpcFuzzTests : IDisposable
{
    private readonly RpcServerRig _rig = new();

    public void Dispose() => _rig.Dispose();

    /// <summary>Valid calls to start mutating from: each procedure's args as virsh would send them.</summary>
    private static List<byte[]> Corpus()
    {
        var web = new DomainRef("web", RpcServerRig.WebUuid, 1);
        var snapshot = new SnapshotRef("s", web);
        var calls = new List<(RemoteProcedure, Action<XdrWriter>?)>
        {
            (RemoteProcedure.AuthList, null),
            (RemoteProcedure.ConnectSupportsFeature, w => w.WriteInt32(14)),
            (RemoteProcedure.ConnectOpen, w => { w.WriteOptionalString("qemu:///system"); w.WriteUInt32(0); }),
            (RemoteProcedure.ConnectListAllDomains, w => { w.WriteInt32(1); w.WriteUInt32(3); }),
            (RemoteProcedure.ConnectListDomains, w => w.WriteInt32(10)),
            (RemoteProcedure.DomainLookupByName, w => w.WriteString("web")),
            (RemoteProcedure.DomainLookupByUuid, w => w.WriteUuid(RpcServerRig.WebUuid)),
            (RemoteProcedure.DomainGetInfo, w => RemoteWire.WriteDomain(w, web)),
            (RemoteProcedure.DomainGetState, w => { RemoteWire.WriteDomain(w, web); w.WriteUInt32(0); }),
            (RemoteProcedure.DomainGetXmlDesc, w => { RemoteWire.WriteDomain(w, web); w.WriteUInt32(0); }),
            (RemoteProcedure.DomainGetVcpus, w => { RemoteWire.WriteDomain(w, web); w.WriteInt32(4); w.WriteInt32(1); }),
            (RemoteProcedure.DomainGetVcpuPinInfo, w => { RemoteWire.WriteDomain(w, web); w.WriteInt32(4); w.WriteInt32(1); w.WriteUInt32(0); }),
            (RemoteProcedure.NodeGetCpuMap, w => { w.WriteInt32(1); w.WriteInt32(1); w.WriteUInt32(0); }),
            (RemoteProcedure.DomainDefineXml, w => w.WriteString("<domain type='kvm'><name>fuzz</name></domain>")),
            (RemoteProcedure.DomainSnapshotCreateXml, w => { RemoteWire.WriteDomain(w, web); w.WriteString("<domainsnapshot><name>s</name></domainsnapshot>"); w.WriteUInt32(0); }),
            (RemoteProcedure.DomainSnapshotGetParent, w => { RemoteWire.WriteSnapshot(w, snapshot); w.WriteUInt32(0); }),
            (RemoteProcedure.ConnectDomainEventCallbackRegisterAny, w => { w.WriteInt32(0); w.WritePresent(false); }),
            (RemoteProcedure.ConnectDomainEventRegisterAny, w => w.WriteInt32(0)),
            (RemoteProcedure.DomainOpenConsole, w => { RemoteWire.WriteDomain(w, web); w.WriteOptionalString(null); w.WriteUInt32(0); }),
            (RemoteProcedure.DomainSuspend, w => RemoteWire.WriteDomain(w, web)),
            (RemoteProcedure.DomainResume, w => RemoteWire.WriteDomain(w, web)),
        };
        var corpus = new List<byte[]>();
        foreach (var (procedure, args) in calls)
            corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, (int)procedure, RpcMessageType.Call, 1, RpcMessageStatus.Ok), args));
        // A console's data, a finish and an abort for serial 1, and a PING.
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 201, RpcMessageType.Stream, 1, RpcMessageStatus.Continue), "ls\n"u8));
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 201, RpcMessageType.Stream, 1, RpcMessageStatus.Ok)));
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 201, RpcMessageType.Stream, 1, RpcMessageStatus.Error),
            new RemoteError(1, 7, "abort").Encode));
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Keepalive, 1, 1, RpcMessageType.Message, 0, RpcMessageStatus.Ok)));
        return corpus;
    }

    private static byte[] Mutate(Random random, byte[] packet)
    {
        byte[] bytes = (byte[])packet.Clone();
        switch (random.Next(5))
        {
            case 0:   // flip bytes anywhere after the length word (the framing stays intact)
                for (int i = random.Next(1, 4); i > 0; i--) bytes[random.Next(4, bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 1:   // a count or length in the payload made huge
                if (bytes.Length >= 32) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(28 + (random.Next((bytes.Length - 28) / 4) * 4)), (uint)random.Next());
                return bytes;
            case 2:   // the payload cut short, length word fixed up
                int cut = random.Next(28, bytes.Length + 1);
                var shorter = bytes[..cut];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(shorter, (uint)cut);
                return shorter;
            case 3:   // garbage appended, length word fixed up
                var longer = new byte[bytes.Length + random.Next(1, 64)];
                bytes.CopyTo(longer, 0);
                random.NextBytes(longer.AsSpan(bytes.Length));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(longer, (uint)longer.Length);
                return longer;
            default:  // anything at all, the length word included
                var noise = new byte[random.Next(1, 96)];
                random.NextBytes(noise);
                return noise;
        }
    }

    [Fact]
    public void RandomAndMutatedPacketsNeverHurtTheServer()
    {
        var random = new Random(20261202);
        var corpus = Corpus();

        for (int connection = 0; connection < 150; connection++)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(_rig.SocketPath));
            socket.ReceiveTimeout = 10_000;
            int packets = random.Next(1, 12);
            try
            {
                for (int i = 0; i < packets; i++)
                {
                    byte[] packet = corpus[random.Next(corpus.Count)];
                    socket.Send(random.Next(3) == 0 ? packet : Mutate(random, packet));
                }
                socket.Shutdown(SocketShutdown.Send);
                // Read until the server closes: it must, once it has seen the end of our packets.
                var buffer = new byte[65536];
                while (socket.Receive(buffer) > 0) { }
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
            {
                // the server closed on bad framing while we were still writing
            }
        }

        Poll.Until(() => _rig.Server.ConnectionCount == 0, () => $"{_rig.Server.ConnectionCount} fuzz connections still open");
        var list = _rig.Virsh("list", "--all");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("web", list.Stdout);
        Assert.DoesNotContain(_rig.Logger.Lines, l => l.StartsWith("Error: ", StringComparison.Ordinal));
        Assert.Contains(_rig.Logger.Lines, l => l.Contains("bad payload"));
    }
}
