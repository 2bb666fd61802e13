using System.Diagnostics;
using System.Text;
using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Images;

/// <summary>The kernel command lines of the default guest, and the --exec command carried on one.</summary>
public class DefaultGuestCommandLineTests
{
    private const string Awkward = "printf '%s\\n' \"a  b\" $HOME; echo \"ü\" | tr a-z A-Z\n\texit 3";

    [Fact]
    public void TheShellKeepsTheKernelsOwnConsoleOutput()
    {
        string line = DefaultGuestCommandLine.Shell();
        Assert.Contains("console=ttyS0", line.Split(' '));
        Assert.DoesNotContain("quiet", line.Split(' '));
        Assert.DoesNotContain(line.Split(' '), w => w.StartsWith("kvmsharp.exec=", StringComparison.Ordinal));
        Assert.EndsWith(" init=/bin/sh", DefaultGuestCommandLine.Shell(" init=/bin/sh "));
    }

    [Fact]
    public void ExecIsQuietAndCarriesTheCommandAsOneWord()
    {
        string line = DefaultGuestCommandLine.Exec(Awkward);
        var words = line.Split(' ');
        Assert.Contains("quiet", words);
        Assert.Contains("console=ttyS0", words);
        string parameter = Assert.Single(words, w => w.StartsWith("kvmsharp.exec=", StringComparison.Ordinal));
        Assert.Matches("^kvmsharp.exec=[A-Za-z0-9+/=]+$", parameter);   // nothing the kernel or a shell would split or quote
        Assert.Equal(Awkward, Encoding.UTF8.GetString(Convert.FromBase64String(parameter["kvmsharp.exec=".Length..])));
    }

    [Fact]
    public void GnuBase64DecodesTheParameterToTheCommandBytes()
    {
        // /init decodes with busybox base64 -d; coreutils' base64 reads the same RFC 4648 alphabet.
        string parameter = DefaultGuestCommandLine.Exec(Awkward).Split(' ').Single(w => w.StartsWith("kvmsharp.exec=", StringComparison.Ordinal));
        var start = new ProcessStartInfo("base64", ["-d"]) { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(parameter["kvmsharp.exec=".Length..]);
        process.StandardInput.Close();
        using var decoded = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(decoded);
        process.WaitForExit();
        Assert.Equal(Encoding.UTF8.GetBytes(Awkward), decoded.ToArray());
    }

    [Fact]
    public void ACommandTooLongForTheKernelOrAnEmptyOneIsAUserError()
    {
        string longest = new('x', 1400);
        Assert.True(DefaultGuestCommandLine.Exec(longest).Length <= DefaultGuestCommandLine.MaxLength);
        var e = Assert.Throws<GuestImageException>(() => DefaultGuestCommandLine.Exec(new string('x', 1600)));
        Assert.StartsWith("--exec: the command is too long for the kernel command line", e.Message);
        Assert.Throws<GuestImageException>(() => DefaultGuestCommandLine.Exec("  "));
    }
}
