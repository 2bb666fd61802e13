using KvmSharp.Manager.Domains;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>Stock virsh 9.0 (libvirt-clients) against our server: the procedures and traps of libvirt-protocol.md.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirshTests : IDisposable
{
    private readonly RpcServerRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void ListAllShowsRunningAndShutOffDomainsWithTheirIds()
    {
        var r = _rig.Virsh("list", "--all");

        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^1\s+web\s+running$", lines[0]);   // virsh puts running domains first
        Assert.Matches(@"^-\s+db\s+shut off$", lines[1]);
    }

    [Fact]
    public void ListFiltersAreAppliedByTheServer()
    {
        _rig.Driver.Add("paused", Guid.NewGuid(), DomainState.Paused);
        _rig.Driver.LookupByName("db");
        _rig.Virsh("autostart", "db");

        var inactive = _rig.Virsh("list", "--inactive", "--name");
        var paused = _rig.Virsh("list", "--state-paused", "--name");
        var autostart = _rig.Virsh("list", "--all", "--autostart", "--name");
        var running = _rig.Virsh("list", "--name");

        Assert.Equal("db", inactive.Stdout.Trim());
        Assert.Equal("paused", paused.Stdout.Trim());
        Assert.Equal("db", autostart.Stdout.Trim());
        Assert.Equal(["paused", "web"], running.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    [Fact]
    public void DominfoAndDomstateReadTheDriver()
    {
        var info = _rig.Virsh("dominfo", "web");
        var state = _rig.Virsh("domstate", "db");
        var byUuid = _rig.Virsh("domname", RpcServerRig.DbUuid.ToString());

        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Matches(@"UUID:\s+11111111-2222-3333-4444-555555555555", info.Stdout);
        Assert.Matches(@"OS Type:\s+hvm", info.Stdout);
        Assert.Matches(@"State:\s+running", info.Stdout);
        Assert.Matches(@"CPU\(s\):\s+2", info.Stdout);
        Assert.Matches(@"Max memory:\s+524288 KiB", info.Stdout);
        Assert.Matches(@"Persistent:\s+yes", info.Stdout);
        Assert.Equal("shut off", state.Stdout.Trim());
        Assert.Equal("db", byUuid.Stdout.Trim());
    }

    [Fact]
    public void AnUnknownDomainIsAnError()
    {
        var r = _rig.Virsh("dominfo", "nosuch");

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("failed to get domain 'nosuch'", r.Stderr);   // virsh's own words after LOOKUP_BY_NAME fails
    }

    [Fact]
    public void VersionAndNodeinfoDescribeUsAndTheHost()
    {
        var version = _rig.Virsh("version", "--daemon");
        var node = _rig.Virsh("nodeinfo");

        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Contains("Running hypervisor: KvmSharp ", version.Stdout);
        Assert.Contains("Running against daemon: ", version.Stdout);
        Assert.True(node.ExitCode == 0, node.ToString());
        Assert.Matches(@"CPU model:\s+x86_64", node.Stdout);
        Assert.Matches($@"CPU\(s\):\s+{Environment.ProcessorCount}\n", node.Stdout);
        Assert.Equal(Environment.MachineName, _rig.Virsh("hostname").Stdout.Trim());
        Assert.Contains("<os_type>hvm</os_type>", _rig.Virsh("capabilities").Stdout);
    }

    [Fact]
    public void StoragePoolsAndNetworksAreNotSupportedButTheConnectionSurvives()
    {
        var pools = _rig.Virsh("pool-list", "--all");
        var networks = _rig.Virsh("net-list", "--all");

        Assert.NotEqual(0, pools.ExitCode);
        Assert.Contains("this function is not supported by the connection driver", pools.Stderr);
        Assert.NotEqual(0, networks.ExitCode);
        Assert.Contains("this function is not supported by the connection driver", networks.Stderr);
        Assert.True(_rig.Virsh("list").ExitCode == 0);
    }

    [Fact]
    public void StartSuspendResumeDestroyCallTheDriver()
    {
        var start = _rig.Virsh("start", "db");
        var suspend = _rig.Virsh("suspend", "db");
        var paused = _rig.Virsh("domstate", "db");
        var resume = _rig.Virsh("resume", "db");
        var destroy = _rig.Virsh("destroy", "db");

        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.True(suspend.ExitCode == 0, suspend.ToString());
        Assert.Equal("paused", paused.Stdout.Trim());
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.True(destroy.ExitCode == 0, destroy.ToString());
        Assert.Equal(["start db 0", "suspend db", "resume db", "destroy db 0"], _rig.Driver.Calls);
    }

    [Fact]
    public void ADriverErrorReachesVirshVerbatim()
    {
        var r = _rig.Virsh("suspend", "db");

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("error: Requested operation is not valid: domain is not running", r.Stderr);
    }

    [Fact]
    public void ReadOnlyVirshCannotStart()
    {
        var r = ClientProcess.Virsh(_rig.SocketPath, readOnly: true, "start", "db");
        var list = ClientProcess.Virsh(_rig.SocketPath, readOnly: true, "list", "--all");

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("read only access prevents virDomainCreate", r.Stderr);
        Assert.Empty(_rig.Driver.Calls);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("web", list.Stdout);
    }

    [Fact]
    public void TheReadOnlySocketRefusesDefineEvenToAReadWriteClient()
    {
        using var readOnly = new RpcServerRig(readOnly: true);
        string file = Path.Combine(readOnly.Directory, "new.xml");
        File.WriteAllText(file, "<domain type='kvm'><name>new</name></domain>");

        var r = readOnly.Virsh("define", file);
        var list = readOnly.Virsh("list", "--all");

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("operation forbidden: read only access prevents virDomainDefineXML", r.Stderr);
        Assert.Empty(readOnly.Driver.Calls);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite, File.GetUnixFileMode(readOnly.SocketPath));
    }

    [Fact]
    public void DefineDumpxmlDomblklistAndUndefine()
    {
        string file = Path.Combine(_rig.Directory, "new.xml");
        File.WriteAllText(file, "<domain type='kvm'><name>new</name><uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid></domain>");

        var define = _rig.Virsh("define", file);
        var blk = _rig.Virsh("domblklist", "new");
        var undefine = _rig.Virsh("undefine", "new");
        var bad = _rig.Virsh("define", "/dev/null");

        Assert.True(define.ExitCode == 0, define.ToString());
        Assert.Matches(@"vda\s+/var/lib/kvmsharp/disk.img", blk.Stdout);
        Assert.True(undefine.ExitCode == 0, undefine.ToString());
        Assert.Contains("XML error", bad.Stderr);
        Assert.Equal(["define new 0", "undefine new 0"], _rig.Driver.Calls);
    }

    [Fact]
    public void SnapshotsCreateListRevertAndDelete()
    {
        var create1 = _rig.Virsh("snapshot-create-as", "web", "first");
        var create2 = _rig.Virsh("snapshot-create-as", "web", "second");
        var list = _rig.Virsh("snapshot-list", "web", "--tree");
        var current = _rig.Virsh("snapshot-current", "web", "--name");
        var revert = _rig.Virsh("snapshot-revert", "web", "first");
        var delete = _rig.Virsh("snapshot-delete", "web", "second");
        var missing = _rig.Virsh("snapshot-revert", "web", "nosuch");
        var none = _rig.Virsh("snapshot-current", "db", "--name");

        Assert.True(create1.ExitCode == 0, create1.ToString());
        Assert.True(create2.ExitCode == 0, create2.ToString());
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("first", list.Stdout);
        Assert.Contains("second", list.Stdout);
        Assert.Equal("second", current.Stdout.Trim());
        Assert.True(revert.ExitCode == 0, revert.ToString());
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("no domain snapshot with matching name 'nosuch'", missing.Stderr);
        Assert.NotEqual(0, none.ExitCode);
        Assert.Equal(["snapshot web first", "snapshot web second", "revert web first", "delete-snapshot web second"], _rig.Driver.Calls);
    }

    [Fact]
    public void SaveManagedSaveAutostartAndVcpuinfo()
    {
        var vcpus = _rig.Virsh("vcpuinfo", "web");
        var autostart = _rig.Virsh("autostart", "web");
        var save = _rig.Virsh("save", "web", Path.Combine(_rig.Directory, "web.save"));
        var restore = _rig.Virsh("restore", Path.Combine(_rig.Directory, "web.save"));
        _rig.Driver.Calls.Clear();
        _rig.Virsh("start", "web");
        var managed = _rig.Virsh("managedsave", "web");
        var listed = _rig.Virsh("list", "--all", "--managed-save");

        Assert.True(vcpus.ExitCode == 0, vcpus.ToString());
        Assert.Equal(2, Poll.Occurrences(vcpus.Stdout, "VCPU:"));
        Assert.Matches(@"CPU time:\s+0.0s", vcpus.Stdout);
        Assert.True(autostart.ExitCode == 0, autostart.ToString());
        Assert.True(save.ExitCode == 0, save.ToString());
        Assert.True(restore.ExitCode == 0, restore.ToString());
        Assert.True(managed.ExitCode == 0, managed.ToString());
        Assert.Matches(@"-\s+web\s+saved", listed.Stdout);
        Assert.Equal(["start web 0", "managedsave web 0"], _rig.Driver.Calls);
    }

    [Fact]
    public void EventAllReportsALifecycleEventAlthoughTheOtherIdsAreRefused()
    {
        var client = Task.Run(() => _rig.Virsh("event", "--all", "--timeout", "20"));
        Poll.Until(() => _rig.Driver.Subscribers > 0 || client.IsCompleted, () => "virsh never registered for events");

        _rig.Driver.Start(_rig.Driver.LookupByName("db"), 0);
        var r = client.Result;

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("event 'lifecycle' for domain 'db': Started Booted", r.Stdout);
        Poll.Until(() => _rig.Driver.Subscribers == 0, () => "virsh's registration outlived it");
    }
}
