using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace KvmSharp.Tests.Api;

/// <summary>A plain HTTP/1.1 client on a Unix socket, as curl --unix-socket is: what every API test speaks.</summary>
internal sealed class ApiClient(string socketPath) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, token) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = new Uri("http://localhost"), Timeout = TimeSpan.FromSeconds(60) };

    public (int Status, string Body) Send(string method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = _http.Send(request, TestContext.Current.CancellationToken);
        using var reader = new StreamReader(response.Content.ReadAsStream(TestContext.Current.CancellationToken));
        return ((int)response.StatusCode, reader.ReadToEnd());
    }

    /// <summary>Sends and expects 204 No Content.</summary>
    public void Ok(string method, string path, string? json = null)
    {
        var (status, body) = Send(method, path, json);
        Assert.True(status == 204, $"{method} {path}: {status} {body}");
    }

    /// <summary>Sends and expects a 400 whose fault message contains <paramref name="expected"/>.</summary>
    public string Refused(string method, string path, string? json, string expected)
    {
        var (status, body) = Send(method, path, json);
        Assert.True(status == 400, $"{method} {path}: expected 400, got {status} {body}");
        string message = JsonDocument.Parse(body).RootElement.GetProperty("fault_message").GetString()!;
        Assert.Contains(expected, message);
        return message;
    }

    public JsonElement Get(string path)
    {
        var (status, body) = Send("GET", path);
        Assert.True(status == 200, $"GET {path}: {status} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public void Dispose() => _http.Dispose();
}
