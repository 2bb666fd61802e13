using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>A server on a socket in a temporary directory, over a <see cref="FakeDomainDriver"/> with two domains.</summary>
internal sealed class RpcServerRig : IDisposable
{
    public static readonly Guid WebUuid = Guid.Parse("11111111-2222-3333-4444-555555555555");
    public static readonly Guid DbUuid = Guid.Parse("0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c");

    private readonly string _dir = System.IO.Directory.CreateTempSubdirectory("kvmsharp-rpc").FullName;

    public RpcServerRig(bool readOnly = false)
    {
        Driver.Add("web", WebUuid, DomainState.Running);
        Driver.Add("db", DbUuid);
        SocketPath = Path.Combine(_dir, readOnly ? "libvirt-sock-ro" : "libvirt-sock");
        Server = RpcServer.Start(SocketPath, readOnly, Driver, Logger);
    }

    public FakeDomainDriver Driver { get; } = new();
    public ListLogger Logger { get; } = new();
    public RpcServer Server { get; }
    public string SocketPath { get; }
    public string Directory => _dir;

    public ClientProcess.Result Virsh(params string[] arguments) => ClientProcess.Virsh(SocketPath, arguments);

    public void Dispose()
    {
        Server.Dispose();
        System.IO.Directory.Delete(_dir, recursive: true);
    }
}
