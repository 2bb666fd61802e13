using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace KvmSharp.Manager.Vmm;

/// <summary>
/// Drives one VMM through its per-VM API socket (issue 10's Firecracker-compatible HTTP API). Every failure,
/// an answer other than 2xx included, is a <see cref="VmmApiException"/> carrying the VMM's fault message.
/// </summary>
public sealed class VmmApiClient : IDisposable
{
    private readonly HttpClient _http;

    public VmmApiClient(string socketPath, TimeSpan timeout)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancel).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = timeout };
    }

    public string SocketPath { get; }

    /// <summary>GET /: "Not started", "Running" or "Paused".</summary>
    public string GetState()
    {
        using var document = JsonDocument.Parse(Send(HttpMethod.Get, "/", null));
        return document.RootElement.TryGetProperty("state", out var state) && state.ValueKind == JsonValueKind.String
            ? state.GetString()! : throw new VmmApiException("GET / answered without a state");
    }

    public void Pause() => Send(HttpMethod.Patch, "/vm", """{"state": "Paused"}""");

    public void Resume() => Send(HttpMethod.Patch, "/vm", """{"state": "Resumed"}""");

    /// <summary>PUT /actions: Shutdown (ACPI power button), Reboot, SendCtrlAltDel.</summary>
    public void Action(string actionType) => Send(HttpMethod.Put, "/actions", $$"""{"action_type": {{Quote(actionType)}}}""");

    /// <summary>PUT /snapshot/create of the paused machine: its state and memory to two files.</summary>
    public void CreateSnapshot(string statePath, string memoryPath) => Send(HttpMethod.Put, "/snapshot/create",
        $$"""{"snapshot_type": "Full", "snapshot_path": {{Quote(statePath)}}, "mem_file_path": {{Quote(memoryPath)}}}""");

    /// <summary>PUT /disk-snapshots/{name} (ours): internal snapshot <paramref name="name"/> in every writable qcow2 disk of the paused machine.</summary>
    public void CreateDiskSnapshots(string name) => Send(HttpMethod.Put, "/disk-snapshots/" + Uri.EscapeDataString(name), null);

    /// <summary>DELETE /disk-snapshots/{name} (ours): the internal snapshot deleted from every writable qcow2 disk that has it.</summary>
    public void DeleteDiskSnapshots(string name) => Send(HttpMethod.Delete, "/disk-snapshots/" + Uri.EscapeDataString(name), null);

    private string Send(HttpMethod method, string path, string? json)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        try
        {
            using var response = _http.Send(request);
            string body = new StreamReader(response.Content.ReadAsStream(), Encoding.UTF8).ReadToEnd();
            if (response.IsSuccessStatusCode) return body;
            throw new VmmApiException(FaultMessage(body) ?? $"{method} {path} answered {(int)response.StatusCode}");
        }
        catch (HttpRequestException e)
        {
            throw new VmmApiException($"the VMM does not answer on {SocketPath}: {e.InnerException?.Message ?? e.Message}", e);
        }
        catch (TaskCanceledException e)
        {
            throw new VmmApiException($"the VMM did not answer {method} {path} within {_http.Timeout.TotalSeconds:0} s", e);
        }
    }

    private static string? FaultMessage(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("fault_message", out var fault) ? fault.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Quote(string text) => JsonSerializer.Serialize(text, VmmJsonContext.Default.String);

    public void Dispose() => _http.Dispose();
}

public sealed class VmmApiException(string message, Exception? inner = null) : Exception(message, inner);
