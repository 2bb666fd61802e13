using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>Keeps every log line, so that tests can see that a problem was reported (once, in one line).</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
}
