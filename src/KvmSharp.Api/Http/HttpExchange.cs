namespace KvmSharp.Api.Http;

/// <summary>One request and the response being made for it, as <see cref="HttpServer"/> hands them to the API.</summary>
public sealed class HttpExchange(string method, string path, long? contentLength, byte[] body)
{
    public HttpRequestData Request { get; } = new(method, path, contentLength, new MemoryStream(body, writable: false));

    public HttpResponseData Response { get; } = new();
}

/// <summary>A parsed request: method, path (without the query), the declared body length and the body itself.</summary>
public sealed record HttpRequestData(string Method, string Path, long? ContentLength, Stream Body);

/// <summary>The response: status, content type and body, written out by the server once the handler returns.</summary>
public sealed class HttpResponseData
{
    public int StatusCode { get; set; } = 200;

    public string? ContentType { get; set; }

    public MemoryStream Body { get; } = new();

    /// <summary>True once a body has been written: a later fault cannot replace it.</summary>
    public bool HasStarted => Body.Length > 0;
}
