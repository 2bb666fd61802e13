
namespace KvmSharp.Api.Http;

/// <summary>
/// Maps (method, path) to a handler. Paths are literal or end in one <c>{id}</c> segment, as Firecracker's;
/// anything else, a wrong method on a known path included, is a 400 that says so (Firecracker's answer, not 404/405).
/// </summary>
internal sealed class ApiRouter
{
    private readonly List<(string Method, string Prefix, bool HasId, Func<HttpExchange, string?, Task> Handler)> _routes = [];

    public ApiRouter Map(string method, string path, Func<HttpExchange, string?, Task> handler)
    {
        bool hasId = path.EndsWith("/{id}", StringComparison.Ordinal);
        _routes.Add((method, hasId ? path[..^"{id}".Length] : path, hasId, handler));
        return this;
    }

    public Task Dispatch(HttpExchange context)
    {
        string method = context.Request.Method;
        string path = context.Request.Path;
        if (path.Length > 1) path = path.TrimEnd('/');
        foreach (var (m, prefix, hasId, handler) in _routes)
        {
            if (m != method) continue;
            if (!hasId && path == prefix) return handler(context, null);
            if (hasId && path.StartsWith(prefix, StringComparison.Ordinal) && path.Length > prefix.Length && path.IndexOf('/', prefix.Length) < 0)
                return handler(context, Uri.UnescapeDataString(path[prefix.Length..]));
        }
        throw new ApiFault($"Invalid request method and/or path: {method} {path}");
    }
}
