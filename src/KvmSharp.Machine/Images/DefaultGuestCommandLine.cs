using System.Text;

namespace KvmSharp.Machine.Images;

/// <summary>
/// The kernel command lines the default guest boots with. A shell: the kernel's own console output on
/// COM1. <c>--exec</c>: the command, base64-encoded (the command line is split at spaces and has no
/// quoting, base64 has neither spaces nor quotes), and <c>quiet loglevel=1</c> so kernel messages other
/// than emergencies (a panic) stay out of the command's output. <c>panic=-1</c> reboots on a panic, which ends the run instead of hanging.
/// </summary>
public static class DefaultGuestCommandLine
{
    public const string ExecParameter = "kvmsharp.exec";
    /// <summary>The console: COM1.</summary>
    public const string ConsoleDevice = "ttyS0";
    /// <summary>Where /init reports an --exec command's status: COM2 (see <see cref="ExecStatusChannel"/>).</summary>
    public const string StatusDevice = "ttyS1";
    public const int StatusComPort = 2;

    /// <summary>Linux/x86's COMMAND_LINE_SIZE is 2048 bytes with the terminating NUL.</summary>
    public const int MaxLength = 2047;

    private const string Common = "console=" + ConsoleDevice + " panic=-1";

    public static string Shell(string extra = "") => Join(Common, extra);

    public static string Exec(string command, string extra = "")
    {
        if (string.IsNullOrWhiteSpace(command)) throw new GuestImageException("--exec needs a command, as in --exec 'uname -a'");
        string line = Join($"{Common} quiet loglevel=1 {ExecParameter}={Convert.ToBase64String(Encoding.UTF8.GetBytes(command))}", extra);
        if (line.Length > MaxLength)
            throw new GuestImageException($"--exec: the command is too long for the kernel command line ({line.Length} bytes once encoded, at most {MaxLength})");
        return line;
    }

    private static string Join(string line, string extra) => string.IsNullOrWhiteSpace(extra) ? line : $"{line} {extra.Trim()}";
}
