using System.Net.Sockets;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Rpc.Remote;
using KvmSharp.Manager.Rpc.Xdr;
using KvmSharp.Manager.Storage;
using KvmSharp.Tests.Manager.Rpc;

namespace KvmSharp.Tests.Manager.Storage;

/// <summary>
/// Storage calls as virsh sends them, mutated (seeded), over many connections to a server with a real
/// <see cref="StorageDriver"/>: no unexpected exception in the daemon, nothing written outside the pool directory,
/// and virsh still manages the pool afterwards.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class StorageRpcFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-storage-rpc").FullName;
    private readonly ListLogger _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MutatedStorageCallsNeverHurtTheDaemonOrLeaveThePool()
    {
        string poolDir = Path.Combine(_dir, "pool");
        var storage = new StorageDriver(new StateDirectory(Path.Combine(_dir, "state")), _logger);
        var pool = storage.DefinePool($"<pool type='dir'><name>fz</name><target><path>{poolDir}</path></target></pool>");
        storage.BuildPool(pool, 0);
        storage.StartPool(pool);
        var raw = storage.CreateVolume(pool, "<volume><name>a.raw</name><capacity>65536</capacity></volume>");
        storage.CreateVolume(pool, "<volume><name>b.qcow2</name><capacity>1048576</capacity><target><format type='qcow2'/></target></volume>");
        string socket = Path.Combine(_dir, "sock");
        using (var server = RpcServer.Start(socket, readOnly: false, new FakeDomainDriver(), _logger, storage))
        {
            var corpus = Corpus(pool, raw);
            var random = new Random(20261203);
            for (int connection = 0; connection < 120; connection++)
            {
                using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                client.Connect(new UnixDomainSocketEndPoint(socket));
                client.ReceiveTimeout = 10_000;
                try
                {
                    client.Send(corpus[2]);   // CONNECT_OPEN first, so the calls reach the storage driver
                    for (int i = random.Next(1, 10); i > 0; i--)
                    {
                        byte[] packet = corpus[random.Next(corpus.Count)];
                        client.Send(random.Next(3) == 0 ? packet : Mutate(random, packet));
                    }
                    client.Shutdown(SocketShutdown.Send);
                    var buffer = new byte[65536];
                    while (client.Receive(buffer) > 0) { }
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
                {
                }
            }
            Poll.Until(() => server.ConnectionCount == 0, () => $"{server.ConnectionCount} fuzz connections still open");
            var list = ClientProcess.Virsh(socket, "vol-list", "fz");
            Assert.True(list.ExitCode == 0, list.ToString());
            Assert.Contains("a.raw", list.Stdout);
        }
        Assert.DoesNotContain(_logger.Lines, l => l.StartsWith("Error: ", StringComparison.Ordinal));
        // The unmutated calls got through to the driver (the seed makes this run the same every time).
        Assert.Contains(_logger.Lines, l => l.Contains("volume c.raw created", StringComparison.Ordinal));
        // Whatever the calls named, every file they made is a plain name inside the pool (or the daemon's state).
        var outside = Directory.EnumerateFileSystemEntries(_dir).Select(f => Path.GetFileName(f)).Where(n => n != "sock").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["pool", "state"], outside);
        Assert.All(Directory.EnumerateFileSystemEntries(poolDir), f => Assert.True(File.Exists(f), $"{f} is not a plain file"));
    }

    private static List<byte[]> Corpus(PoolRef pool, VolumeRef raw)
    {
        var calls = new List<(RemoteProcedure, Action<XdrWriter>?)>
        {
            (RemoteProcedure.AuthList, null),
            (RemoteProcedure.ConnectSupportsFeature, w => w.WriteInt32(10)),
            (RemoteProcedure.ConnectOpen, w => { w.WriteOptionalString("qemu:///system"); w.WriteUInt32(0); }),
            (RemoteProcedure.ConnectListAllStoragePools, w => { w.WriteInt32(1); w.WriteUInt32(0); }),
            (RemoteProcedure.StoragePoolLookupByName, w => w.WriteString("fz")),
            (RemoteProcedure.StoragePoolGetInfo, w => StorageWire.WritePool(w, pool)),
            (RemoteProcedure.StoragePoolGetXmlDesc, w => { StorageWire.WritePool(w, pool); w.WriteUInt32(0); }),
            (RemoteProcedure.StoragePoolRefresh, w => { StorageWire.WritePool(w, pool); w.WriteUInt32(0); }),
            (RemoteProcedure.StoragePoolListAllVolumes, w => { StorageWire.WritePool(w, pool); w.WriteInt32(1); w.WriteUInt32(0); }),
            (RemoteProcedure.StoragePoolDefineXml, w => { w.WriteString("<pool type='dir'><name>p2</name><target><path>/nonexistent/p2</path></target></pool>"); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolLookupByName, w => { StorageWire.WritePool(w, pool); w.WriteString("a.raw"); }),
            (RemoteProcedure.StorageVolCreateXml, w => { StorageWire.WritePool(w, pool); w.WriteString("<volume><name>c.raw</name><capacity>4096</capacity></volume>"); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolCreateXmlFrom, w => { StorageWire.WritePool(w, pool); w.WriteString("<volume><name>d.raw</name><capacity>0</capacity></volume>"); StorageWire.WriteVolume(w, raw); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolGetInfo, w => StorageWire.WriteVolume(w, raw)),
            (RemoteProcedure.StorageVolGetXmlDesc, w => { StorageWire.WriteVolume(w, raw); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolResize, w => { StorageWire.WriteVolume(w, raw); w.WriteUInt64(131072); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolUpload, w => { StorageWire.WriteVolume(w, raw); w.WriteUInt64(0); w.WriteUInt64(0); w.WriteUInt32(0); }),
            (RemoteProcedure.StorageVolDownload, w => { StorageWire.WriteVolume(w, raw); w.WriteUInt64(0); w.WriteUInt64(0); w.WriteUInt32(0); }),
        };
        var corpus = new List<byte[]>();
        foreach (var (procedure, args) in calls)
            corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, (int)procedure, RpcMessageType.Call, 1, RpcMessageStatus.Ok), args));
        // Upload data, a finish and an abort for serial 1 (the upload's, when it was the call before).
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 208, RpcMessageType.Stream, 1, RpcMessageStatus.Continue), new byte[1000]));
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 208, RpcMessageType.Stream, 1, RpcMessageStatus.Ok)));
        corpus.Add(RpcPacket.Build(new RpcHeader(RpcProgram.Remote, 1, 209, RpcMessageType.Stream, 1, RpcMessageStatus.Error), new RemoteError(1, 7, "abort").Encode));
        return corpus;
    }

    private static byte[] Mutate(Random random, byte[] packet)
    {
        byte[] bytes = (byte[])packet.Clone();
        if (bytes.Length <= 28) return bytes;
        if (random.Next(2) == 0)
        {
            for (int i = random.Next(1, 4); i > 0; i--) bytes[random.Next(28, bytes.Length)] = (byte)random.Next(256);
            return bytes;
        }
        if (bytes.Length >= 32) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(28 + random.Next((bytes.Length - 28) / 4) * 4), (uint)random.Next());
        return bytes;
    }
}
