using System.Text;
using KvmSharp.Api;
using KvmSharp.Api.Http;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;
using KvmSharp.Machine.Control;

namespace KvmSharp.Fuzz.Targets;

/// <summary>
/// The per-VM API (Firecracker's paths and JSON bodies) on a machine not yet started: the input's first line is
/// "METHOD PATH", the rest the body, handed to VmApi.Handle as HttpServer does. Handle answers every refusal with a
/// 400 and its own faults with a 500 "internal error", so a 500 is the finding. InstanceStart is not sent on: it
/// would boot a guest (its parsing is shared with every other action).
/// </summary>
public sealed class ApiTarget : FuzzTarget
{
    public override string Name => "api-json";
    public override string Description => "per-VM API requests: routes and JSON bodies before boot (Api VmApi, RequestBody)";
    public override bool IsExpected(Exception exception) => false;

    public override void Run(ReadOnlySpan<byte> input)
    {
        int newline = input.IndexOf((byte)'\n');
        if (newline < 0) return;
        string[] request = Encoding.UTF8.GetString(input[..newline]).Split(' ', 2);
        if (request.Length != 2) return;
        byte[] body = input[(newline + 1)..].ToArray();
        if (request[1].TrimEnd('/') == "/actions" && body.AsSpan().IndexOf("Start"u8) >= 0) return;

        var config = new MachineConfig { Accelerator = AcceleratorChoice.Emulate };
        using var machine = new MachineController(config, new MachineControllerOptions { Console = new NullConsole() });
        var api = new VmApi(machine, "fuzz", bootSourceGiven: false);
        var exchange = new HttpExchange(request[0], request[1], body.Length, body);
        api.Handle(exchange).GetAwaiter().GetResult();
        if (exchange.Response.StatusCode >= 500)
            throw new FuzzFinding($"{request[0]} {request[1]} answered {exchange.Response.StatusCode}: {Encoding.UTF8.GetString(exchange.Response.Body.ToArray())}");
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return Request("machine-config", "PUT /machine-config", """{"vcpu_count": 2, "mem_size_mib": 256, "smt": false}""");
        yield return Request("boot-source", "PUT /boot-source", """{"kernel_image_path": "/boot/vmlinuz", "boot_args": "console=ttyS0", "initrd_path": "/boot/initrd.img"}""");
        yield return Request("drive", "PUT /drives/rootfs", """{"drive_id": "rootfs", "path_on_host": "/srv/rootfs.ext4", "is_root_device": true, "is_read_only": false, "rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}}""");
        yield return Request("network", "PUT /network-interfaces/eth0", """{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "52:54:00:12:34:56"}""");
        yield return Request("vsock", "PUT /vsock", """{"guest_cid": 3, "uds_path": "/tmp/v.sock"}""");
        yield return Request("balloon", "PUT /balloon", """{"amount_mib": 64, "deflate_on_oom": true, "stats_polling_interval_s": 1}""");
        yield return Request("entropy", "PUT /entropy", """{"rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}}""");
        yield return Request("action", "PUT /actions", """{"action_type": "FlushMetrics"}""");
        yield return Request("pause", "PATCH /vm", """{"state": "Paused"}""");
        yield return Request("info", "GET /", "");
    }

    private static FuzzSeed Request(string name, string line, string body) => new(name, Encoding.UTF8.GetBytes(line + "\n" + body));
}
