using System.Diagnostics;
using System.Text;
using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Images;

/// <summary>The initramfs archive writer, read back by GNU cpio (the reference) and by a plain header walk.</summary>
public class CpioNewcWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-cpio").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] SampleArchive()
    {
        using var stream = new MemoryStream();
        var cpio = new CpioNewcWriter(stream);
        cpio.AddDirectory("bin");
        cpio.AddFile("bin/hello", "hello"u8, 0x1ED);   // 5 bytes: data needs 3 bytes of padding
        cpio.AddFile("/empty", []);                     // a leading '/' is dropped
        cpio.AddSymlink("bin/sh", "/bin/hello");
        cpio.AddCharDevice("console", 5, 1);
        cpio.Finish();
        return stream.ToArray();
    }

    private (int Code, string Stdout, string Stderr) Cpio(byte[] archive, params string[] arguments)
    {
        var start = new ProcessStartInfo("cpio") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(archive);
        process.StandardInput.Close();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void GnuCpioListsEveryEntryWithItsTypeAndDevice()
    {
        var (code, listing, stderr) = Cpio(SampleArchive(), "-t", "-v", "--quiet");
        Assert.True(code == 0, stderr);
        var lines = listing.Trim().Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("drwxr-xr-x", lines[0]);
        Assert.EndsWith(" bin", lines[0]);
        Assert.StartsWith("-rwxr-xr-x", lines[1]);
        Assert.Matches(@" 5 .* bin/hello$", lines[1]);
        Assert.EndsWith(" empty", lines[2]);
        Assert.StartsWith("lrwxrwxrwx", lines[3]);
        Assert.EndsWith("bin/sh -> /bin/hello", lines[3]);
        Assert.StartsWith("crw-------", lines[4]);
        Assert.Matches(@" 5,\s+1 .* console$", lines[4]);
    }

    [Fact]
    public void GnuCpioExtractsTheFilesAndLinks()
    {
        var (code, _, stderr) = Cpio(SampleArchive(), "-i", "-d", "--quiet", "--no-absolute-filenames");
        Assert.True(code == 0, stderr);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(_dir, "bin", "hello")));
        Assert.Equal(0, new FileInfo(Path.Combine(_dir, "empty")).Length);
        Assert.Equal("/bin/hello", new FileInfo(Path.Combine(_dir, "bin", "sh")).LinkTarget);
    }

    [Fact]
    public void HeadersAreFourByteAlignedAndTheTrailerEndsTheArchive()
    {
        byte[] archive = SampleArchive();
        var names = new List<string>();
        int offset = 0;
        while (true)
        {
            Assert.Equal(0, offset % 4);
            string header = Encoding.ASCII.GetString(archive, offset, CpioNewcWriter.HeaderLength);
            Assert.StartsWith("070701", header);
            uint Field(int i) => Convert.ToUInt32(header.Substring(6 + 8 * i, 8), 16);
            uint fileSize = Field(6), nameSize = Field(11);
            Assert.Equal(0u, Field(12));                     // check: 0 in newc
            string name = Encoding.UTF8.GetString(archive, offset + CpioNewcWriter.HeaderLength, (int)nameSize - 1);
            Assert.Equal(0, archive[offset + CpioNewcWriter.HeaderLength + (int)nameSize - 1]);   // the size counts the NUL
            names.Add(name);
            int dataStart = Align4(offset + CpioNewcWriter.HeaderLength + (int)nameSize);
            if (name == CpioNewcWriter.TrailerName)
            {
                Assert.Equal(0u, fileSize);
                Assert.Equal(archive.Length, dataStart);
                break;
            }
            if (name == "bin/hello") Assert.Equal("hello", Encoding.ASCII.GetString(archive, dataStart, (int)fileSize));
            offset = Align4(dataStart + (int)fileSize);
        }
        Assert.Equal(["bin", "bin/hello", "empty", "bin/sh", "console", CpioNewcWriter.TrailerName], names);
    }

    [Fact]
    public void RejectsDuplicateAndEscapingNames()
    {
        var cpio = new CpioNewcWriter(new MemoryStream());
        cpio.AddDirectory("bin");
        Assert.Throws<ArgumentException>(() => cpio.AddFile("/bin", []));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("../etc/passwd", []));
        Assert.Throws<ArgumentException>(() => cpio.AddFile("a//b", []));
        Assert.Throws<ArgumentException>(() => cpio.AddFile(CpioNewcWriter.TrailerName, []));
        cpio.Finish();
        Assert.Throws<InvalidOperationException>(() => cpio.AddFile("late", []));
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
