using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace KvmSharp.Api.Http;

/// <summary>
/// Reads a request's JSON body: bounded in size (Firecracker's default limit, 51200 bytes), strict, and every
/// failure a one-line <see cref="ApiFault"/> that says where the JSON went wrong.
/// </summary>
internal static class RequestBody
{
    public const int MaxBytes = 51_200;

    public static async Task<T> ReadAsync<T>(HttpRequestData request, JsonTypeInfo<T> type)
    {
        if (request.ContentLength is > MaxBytes)
            throw new ApiFault($"the request body has {request.ContentLength} bytes; the limit is {MaxBytes}");
        var buffer = new byte[MaxBytes + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = await request.Body.ReadAsync(buffer.AsMemory(length));
            if (n == 0) break;
            length += n;
        }
        if (length > MaxBytes) throw new ApiFault($"the request body is larger than the limit of {MaxBytes} bytes");
        if (length == 0) throw new ApiFault("the request needs a JSON body");
        try
        {
            return JsonSerializer.Deserialize(buffer.AsSpan(0, length), type) ?? throw new ApiFault("the request body is null; it needs a JSON object");
        }
        catch (JsonException e)
        {
            throw new ApiFault($"the request body is not valid: {Describe(e)}");
        }
    }

    /// <summary>The parser's message without its type names, and where it stopped.</summary>
    private static string Describe(JsonException e)
    {
        string message = e.Message;
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        string where = e.Path is { Length: > 1 } path ? $" (at {path})" : "";
        return message.TrimEnd('.') + where;
    }
}
