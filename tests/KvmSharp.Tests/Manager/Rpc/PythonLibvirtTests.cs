namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>python3-libvirt 9.0 (the C library's remote driver under the bindings) against our server.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PythonLibvirtTests : IDisposable
{
    private readonly RpcServerRig _rig = new();

    public void Dispose() => _rig.Dispose();

    private ClientProcess.Result Python(string script, int timeoutSeconds = 30)
    {
        string file = Path.Combine(_rig.Directory, "client.py");
        File.WriteAllText(file, script);
        return ClientProcess.Run("/usr/bin/python3", [file, $"qemu+unix:///system?socket={_rig.SocketPath}"], timeoutSeconds);
    }

    [Fact]
    public void OpenListAllDomainsAndReadInfo()
    {
        var r = Python("""
            import sys, libvirt
            conn = libvirt.open(sys.argv[1])
            print(sorted((d.name(), d.ID(), d.UUIDString(), d.isActive()) for d in conn.listAllDomains()))
            print(conn.lookupByName('web').info())
            print(conn.getType(), conn.getLibVersion(), len(conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)))
            conn.close()
            """);

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n');
        Assert.Equal("[('db', -1, '0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c', 0), ('web', 1, '11111111-2222-3333-4444-555555555555', 1)]", lines[0]);
        Assert.Equal("[1, 524288, 524288, 2, 1500000000]", lines[1]);
        Assert.StartsWith("KvmSharp ", lines[2]);
        Assert.EndsWith(" 1", lines[2]);
    }

    [Fact]
    public void LifecycleEventsReachCallbacksFilteredByDomain()
    {
        var r = Python("""
            import sys, threading, libvirt
            libvirt.virEventRegisterDefaultImpl()
            def loop():
                while True:
                    libvirt.virEventRunDefaultImpl()
            threading.Thread(target=loop, daemon=True).start()
            conn = libvirt.open(sys.argv[1])
            seen = []
            done = threading.Event()
            def callback(conn, dom, event, detail, tag):
                seen.append((tag, dom.name(), event, detail))
                if len(seen) == 3:
                    done.set()
            everything = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, 'all')
            web_only = conn.domainEventRegisterAny(conn.lookupByName('web'), libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, 'web')
            conn.lookupByName('db').create()
            conn.lookupByName('web').suspend()
            done.wait(10)
            print(sorted(seen))
            conn.domainEventDeregisterAny(everything)
            conn.domainEventDeregisterAny(web_only)
            conn.close()
            """);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("[('all', 'db', 2, 0), ('all', 'web', 3, 0), ('web', 'web', 3, 0)]", r.Stdout.Trim());
        Poll.Until(() => _rig.Driver.Subscribers == 0, () => "the subscription outlived its callbacks");
    }

    [Fact]
    public void AConsoleStreamCarriesBothWaysAndEndsWithEndOfFile()
    {
        var client = Task.Run(() => Python("""
            import sys, libvirt
            conn = libvirt.open(sys.argv[1])
            dom = conn.lookupByName('web')
            stream = conn.newStream(0)
            dom.openConsole(None, stream, 0)
            print(stream.recv(1024))
            stream.send(b'root\n')
            data = b''
            while True:
                chunk = stream.recv(1024)
                if not chunk:
                    break
                data += chunk
            print(data)
            stream.finish()
            conn.close()
            """));

        Poll.Until(() => _rig.Driver.Console?.Input == "root\n" || client.IsCompleted, () => "the console input never arrived");
        var console = _rig.Driver.Console!;
        console.Sink.Output("Password: "u8);
        console.Sink.Output("bye\n"u8);
        console.Sink.Closed(null);
        var r = client.Result;

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("b'login: '\nb'Password: bye\\n'\n", r.Stdout);
        Assert.True(console.Disposed);
    }

    [Fact]
    public void AbortingAConsoleStreamReturnsAndDetachesTheSession()
    {
        var r = Python("""
            import sys, libvirt
            conn = libvirt.open(sys.argv[1])
            dom = conn.lookupByName('web')
            stream = conn.newStream(0)
            dom.openConsole(None, stream, 0)
            print(stream.recv(1024))
            stream.abort()
            print('aborted', dom.info()[0])
            conn.close()
            """);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("b'login: '\naborted 1\n", r.Stdout);
        Assert.True(_rig.Driver.Console!.Disposed);
    }

    [Fact]
    public void AConsoleErrorEndsTheStreamWithTheMessage()
    {
        var client = Task.Run(() => Python("""
            import sys, libvirt
            conn = libvirt.open(sys.argv[1])
            stream = conn.newStream(0)
            conn.lookupByName('web').openConsole(None, stream, 0)
            print(stream.recv(1024))
            try:
                while stream.recv(1024):
                    pass
                print('no error')
            except libvirt.libvirtError as e:
                print('error:', e.get_error_message())
            conn.close()
            """));

        Poll.Until(() => _rig.Driver.Console is not null || client.IsCompleted, () => "the console was never opened");
        Thread.Sleep(200);
        _rig.Driver.Console!.Sink.Closed("another session took the console");
        var r = client.Result;

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("b'login: '\nerror: another session took the console\n", r.Stdout);
        Poll.Until(() => _rig.Driver.Console.Disposed, () => "the console session was not disposed with its connection");
    }
}
