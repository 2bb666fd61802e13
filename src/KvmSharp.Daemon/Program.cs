using System.CommandLine;
using System.Runtime.InteropServices;
using KvmSharp.Manager;
using KvmSharp.Manager.Confinement;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Networks;
using KvmSharp.Manager.Rpc;
using KvmSharp.Manager.Storage;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Daemon;

/// <summary>
/// kvmsharpd: keeps domain definitions, runs each domain as a VMM process and serves libvirt's remote protocol on a
/// Unix socket (read-write, mode 0600) and its read-only twin (PATH-ro, mode 0666), so virsh and python-libvirt
/// manage KvmSharp VMs. SIGTERM or SIGINT stop the daemon and leave the VMs running; the next start reattaches.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var stateDir = new Option<string>("--state-dir") { HelpName = "DIR", Description = "Where definitions, snapshots and running domains' files live", DefaultValueFactory = _ => ManagerPaths.DefaultStateDirectory };
        var socket = new Option<string>("--socket") { HelpName = "PATH", Description = "The libvirt socket (mode 0600); PATH-ro is the read-only one (mode 0666)", DefaultValueFactory = _ => ManagerPaths.DefaultSocket };
        var vmm = new Option<string>("--vmm") { HelpName = "PATH", Description = "The kvmsharp binary that runs each domain", DefaultValueFactory = _ => ManagerPaths.DefaultVmm };
        var command = new RootCommand("kvmsharpd: the KvmSharp manager daemon; virsh and python-libvirt drive it through libvirt's remote protocol")
        {
            stateDir, socket, vmm,
        };
        command.SetAction(result => Run(result.GetValue(stateDir)!, result.GetValue(socket)!, result.GetValue(vmm)!));
        return command.Parse(args).Invoke();
    }

    private static int Run(string stateDir, string socketPath, string vmmProgram)
    {
        using var loggers = LoggerFactory.Create(builder => builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }).AddFilter(level => level >= LogLevel.Information));
        var log = loggers.CreateLogger("kvmsharpd");
        if (!File.Exists(vmmProgram))
        {
            Console.Error.WriteLine($"kvmsharpd: error: the VMM program '{vmmProgram}' does not exist (--vmm PATH)");
            return 2;
        }
        // The handlers come first: a SIGTERM that arrives while autostart domains start must still end the daemon
        // cleanly rather than by the default action.
        using var stop = new ManualResetEventSlim();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
        RpcServer? readWrite = null, readOnly = null;
        try
        {
            Directory.CreateDirectory(stateDir);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(socketPath))!);
            var state = new StateDirectory(stateDir);
            var storage = new StorageDriver(state, log);
            storage.StartPools();
            // Networks before domains: a domain found running or autostarted has its taps on their bridges.
            // A root daemon's VMMs run as the unprivileged VMM user, each in a cgroup of its own (issue 15).
            var vmmUser = VmmUser.ForDaemon(log);
            var cgroups = CgroupHost.Detect();
            log.LogInformation("VMMs run as {User}; VM cgroups: {Cgroups}", vmmUser?.Name ?? Environment.UserName + " (the daemon's user)", cgroups);
            var networks = new NetworkDriver(stateDir, log) { TapOwner = vmmUser?.Name };
            var driver = new DomainDriver(state, Path.GetFullPath(vmmProgram), log, storage, networks, (vmmUser, cgroups));
            readWrite = RpcServer.Start(socketPath, readOnly: false, driver, log, storage, networks);
            readOnly = RpcServer.Start(socketPath + "-ro", readOnly: true, driver, log, storage, networks);
            log.LogInformation("listening on {Socket} and {Socket}-ro; state in {StateDir}", socketPath, socketPath, Path.GetFullPath(stateDir));
            networks.StartAutostartNetworks();
            driver.StartAutostartDomains();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ManagerException)
        {
            readWrite?.Dispose();
            Console.Error.WriteLine($"kvmsharpd: error: {e.Message}");
            return 1;
        }
        stop.Wait();
        log.LogInformation("stopping; running domains go on and are found again at the next start");
        readOnly.Dispose();
        readWrite.Dispose();
        return 0;
    }
}
