using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.Console;

/// <summary>The host end a <see cref="ConsoleConfig"/> names, for COM1 or a virtio console alike.</summary>
public static class ConsoleBackends
{
    /// <param name="label">What the notice calls it: "console", "virtio console (hvc0)".</param>
    /// <param name="inform">Where the one-line notice with a pty's path or the socket goes.</param>
    /// <param name="onQuit">What Ctrl-A x on stdio does (ends the machine).</param>
    public static ConsoleBackend Create(ConsoleConfig config, string label, Action<string> inform, Action onQuit)
    {
        switch (config.Kind)
        {
            case ConsoleKind.Pty:
                var pty = new PtyConsole();
                inform($"kvmsharp: {label} on {pty.Path}");
                return pty;
            case ConsoleKind.Socket:
                inform($"kvmsharp: {label} on unix socket {config.SocketPath}");
                return new SocketConsole(config.SocketPath!);
            case ConsoleKind.None:
                return new NullConsole();
            default:
                return new StdioConsole(onQuit);
        }
    }
}
