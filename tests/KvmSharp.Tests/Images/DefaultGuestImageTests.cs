using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Images;

/// <summary>
/// The default guest's cache (reused, rebuilt only when forced, kept when a rebuild fails; apt stood in
/// for by scripts that fail as apt does offline) and the image itself, read back with GNU cpio and readelf.
/// </summary>
[SupportedOSPlatform("linux")]
public class DefaultGuestImageTests(DebianKernelFixture built) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-guest").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Cache => Path.Combine(_dir, "cache");

    /// <summary>apt-get and apt-cache that log their calls and fail the way apt does without network.</summary>
    private string OfflineApt()
    {
        string tools = Directory.CreateDirectory(Path.Combine(_dir, "tools")).FullName;
        foreach (var tool in new[] { "apt-get", "apt-cache", "dpkg" })
        {
            string path = Path.Combine(tools, tool);
            File.WriteAllText(path, $"""
                #!/bin/sh
                echo "{tool} $*" >> "{_dir}/calls"
                echo "W: Some index files failed to download. They have been ignored, or old ones used instead." >&2
                echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'" >&2
                exit 100
                """);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return tools;
    }

    private string[] Calls => File.Exists(Path.Combine(_dir, "calls")) ? File.ReadAllLines(Path.Combine(_dir, "calls")) : [];

    private void FakeCachedGuest()
    {
        Directory.CreateDirectory(Cache);
        File.WriteAllText(Path.Combine(Cache, "vmlinuz"), "kernel");
        File.WriteAllText(Path.Combine(Cache, "initrd.img"), "initrd");
        File.WriteAllText(Path.Combine(Cache, "release"), "6.1.0-99-cloud-amd64\n");
        File.WriteAllText(Path.Combine(Cache, "format"), $"{DefaultGuestImage.ImageFormat}\n");
    }

    [Fact]
    public void ACacheOfAnOlderFormatIsNotUsed()
    {
        FakeCachedGuest();
        Assert.NotNull(DefaultGuestImage.TryOpen(Cache));
        File.WriteAllText(Path.Combine(Cache, "format"), $"{DefaultGuestImage.ImageFormat - 1}\n");
        Assert.Null(DefaultGuestImage.TryOpen(Cache));
        File.Delete(Path.Combine(Cache, "format"));
        Assert.Null(DefaultGuestImage.TryOpen(Cache));
    }

    [Fact]
    public void ACachedGuestIsReusedWithoutAskingApt()
    {
        FakeCachedGuest();
        var progress = new List<string>();
        var guest = DefaultGuestImage.Ensure(Cache, force: false, progress.Add, OfflineApt());
        Assert.Equal(new DefaultGuest(Path.Combine(Cache, "vmlinuz"), Path.Combine(Cache, "initrd.img"), "6.1.0-99-cloud-amd64"), guest);
        Assert.Empty(Calls);
        Assert.Empty(progress);
    }

    [Fact]
    public void AnUnreachableArchiveIsOneLineAndAForcedRebuildKeepsTheCachedGuest()
    {
        FakeCachedGuest();
        var progress = new List<string>();
        var e = Assert.Throws<GuestImageException>(() => DefaultGuestImage.Ensure(Cache, force: true, progress.Add, OfflineApt()));
        Assert.Equal("apt-get update failed, so Debian's packages cannot be fetched (network or /etc/apt/sources.list?): "
                     + "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'", e.Message);
        Assert.Equal(["apt-cache depends linux-image-cloud-amd64", "apt-get update"], Calls);
        Assert.Contains("kvmsharp: refreshing apt's package lists (apt-get update)", progress);
        Assert.Equal("6.1.0-99-cloud-amd64", DefaultGuestImage.TryOpen(Cache)?.KernelRelease);
        Assert.False(Directory.Exists(Path.Combine(Cache, "work")));
    }

    [Fact]
    public void MissingAptIsOneLine()
    {
        string empty = Directory.CreateDirectory(Path.Combine(_dir, "no-tools")).FullName;
        var e = Assert.Throws<GuestImageException>(() => DefaultGuestImage.Ensure(Cache, force: false, _ => { }, empty));
        Assert.StartsWith("'apt-cache' not found: the default guest is built from Debian's packages", e.Message);
        Assert.Null(DefaultGuestImage.TryOpen(Cache));
    }

    private string ExtractBuiltInitramfs()
    {
        string root = Directory.CreateDirectory(Path.Combine(_dir, "initramfs")).FullName;
        var start = new ProcessStartInfo("cpio", ["-i", "-d", "--quiet", "--no-absolute-filenames"]) { RedirectStandardInput = true, RedirectStandardError = true, WorkingDirectory = root };
        using var process = Process.Start(start)!;
        using (var gzip = new GZipStream(File.OpenRead(built.Guest.InitrdPath), CompressionMode.Decompress))
            gzip.CopyTo(process.StandardInput.BaseStream);
        process.StandardInput.Close();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, stderr);
        return root;
    }

    [Fact]
    public void TheBuiltInitramfsHasBusyboxInitAndTheVirtioModules()
    {
        string root = ExtractBuiltInitramfs();
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(root, "bin", "sh")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(root, "bin", "busybox")));
        Assert.StartsWith("#!/bin/sh\n", File.ReadAllText(Path.Combine(root, "init")));
        Assert.True(File.GetUnixFileMode(Path.Combine(root, "init")).HasFlag(UnixFileMode.UserExecute));
        string modules = Path.Combine(root, "lib", "modules", built.Guest.KernelRelease);
        var names = Directory.GetFiles(modules, "*.ko", SearchOption.AllDirectories).Select(f => Path.GetFileNameWithoutExtension(f).Replace('-', '_')).ToHashSet();
        foreach (var wanted in DefaultGuestImage.GuestModules)
            Assert.Contains(wanted, names);
    }

    [Fact]
    public void InitLoadsEachModuleAfterTheModulesReadelfSaysItDependsOn()
    {
        string root = ExtractBuiltInitramfs();
        var loads = Regex.Matches(File.ReadAllText(Path.Combine(root, "init")), @"^insmod /(\S+)", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        var loaded = new HashSet<string>();
        Assert.NotEmpty(loads);
        foreach (var module in loads)
        {
            string path = Path.Combine(root, module);
            var depends = ReadelfDepends(path);
            Assert.Equal(depends, KernelModuleInfo.Read(path).Depends);
            foreach (var dependency in depends)
                Assert.True(loaded.Contains(dependency), $"{module} is loaded before its dependency {dependency}");
            loaded.Add(KernelModuleInfo.CanonicalName(Path.GetFileNameWithoutExtension(path)));
        }
    }

    private static string[] ReadelfDepends(string module)
    {
        var start = new ProcessStartInfo("readelf", ["-p", ".modinfo", module]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var match = Regex.Match(output, @"depends=(\S*)");
        Assert.True(match.Success, $"readelf shows no depends= in {module}");
        return match.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries);
    }
}
