using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;

namespace KvmSharp.Api;

/// <summary>
/// The per-VM API, compatible with Firecracker's where it applies: one <see cref="MachineController"/> driven
/// by Firecracker's requests (paths, bodies, status codes: 204 on success, 400 with a fault message when
/// refused, 200 with a body for GETs). Each group of endpoints is a partial file of its own.
/// </summary>
public sealed partial class VmApi
{
    /// <summary>What GET / reports as app_name.</summary>
    public const string AppName = "kvmsharp";

    private static readonly FirecrackerJsonContext Json = FirecrackerJsonContext.Default;

    private readonly MachineController _machine;
    private readonly string _instanceId;
    private readonly Lock _lock = new();

    public VmApi(MachineController machine, string instanceId, bool bootSourceGiven)
    {
        _machine = machine;
        _instanceId = instanceId;
        _bootSourceGiven = bootSourceGiven;
        Router = new ApiRouter()
            .Map("GET", "/", (c, _) => GetInstanceInfo(c))
            .Map("GET", "/machine-config", (c, _) => GetMachineConfig(c))
            .Map("PUT", "/machine-config", (c, _) => PutMachineConfig(c))
            .Map("PATCH", "/machine-config", (c, _) => PutMachineConfig(c))
            .Map("PUT", "/boot-source", (c, _) => PutBootSource(c))
            .Map("PUT", "/drives/{id}", PutDrive)
            .Map("PUT", "/network-interfaces/{id}", PutNetworkInterface)
            .Map("PATCH", "/drives/{id}", PatchDrive)
            .Map("PATCH", "/network-interfaces/{id}", PatchNetworkInterface)
            .Map("PUT", "/vsock", (c, _) => PutVsock(c))
            .Map("PUT", "/entropy", (c, _) => PutEntropy(c))
            .Map("PUT", "/balloon", (c, _) => PutBalloon(c))
            .Map("PATCH", "/balloon", (c, _) => PatchBalloon(c))
            .Map("GET", "/balloon", (c, _) => GetBalloon(c))
            .Map("GET", "/balloon/statistics", (c, _) => GetBalloonStatistics(c))
            .Map("PUT", "/actions", (c, _) => PutAction(c))
            .Map("PATCH", "/vm", (c, _) => PatchVm(c))
            .Map("GET", "/vm/config", (c, _) => GetVmConfig(c))
            .Map("PUT", "/snapshot/create", (c, _) => PutSnapshotCreate(c))
            .Map("PUT", "/snapshot/load", (c, _) => PutSnapshotLoad(c))
            .Map("PUT", "/disk-snapshots/{id}", PutDiskSnapshot)
            .Map("DELETE", "/disk-snapshots/{id}", DeleteDiskSnapshot)
            .Map("PUT", "/migrate", (c, _) => PutMigrate(c))
            .Map("GET", "/migrate", (c, _) => GetMigrate(c));
    }

    internal ApiRouter Router { get; }

    /// <summary>Handles one request; every refusal becomes a fault body, and nothing a client sends reaches the host as an exception.</summary>
    public async Task Handle(HttpExchange context)
    {
        try
        {
            await Router.Dispatch(context);
        }
        catch (ApiFault fault)
        {
            await WriteFault(context, fault.StatusCode, fault.Message);
        }
        catch (MachinePhaseException e)
        {
            await WriteFault(context, 400, e.Message);
        }
        catch (MachineConfigException e)
        {
            await WriteFault(context, 400, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KvmSharp.State.StateException)
        {
            await WriteFault(context, 400, e.Message);
        }
        catch (Exception e)
        {
            // A fault of ours, not the client's: say so, and keep serving.
            await WriteFault(context, 500, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    }

    private static async Task WriteFault(HttpExchange context, int status, string message)
    {
        if (context.Response.HasStarted) context.Response.Body.SetLength(0);
        context.Response.StatusCode = status;
        await Write(context, new Fault(message), Json.Fault, status);
    }

    private static Task NoContent(HttpExchange context)
    {
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    private static async Task Write<T>(HttpExchange context, T value, JsonTypeInfo<T> type, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type);
    }

    private static string StateName(MachinePhase phase) => phase switch
    {
        MachinePhase.NotStarted => "Not started",
        MachinePhase.Paused => "Paused",
        MachinePhase.Running => "Running",
        _ => "Ended",
    };

    private Task GetInstanceInfo(HttpExchange context) =>
        Write(context, new InstanceInfo(_instanceId, StateName(_machine.Phase), VmmVersion, AppName), Json.InstanceInfo);

    private static string VmmVersion =>
        typeof(VmApi).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.0.0";
}
