using System.Diagnostics;

namespace KvmSharp.Machine.Images;

/// <summary>A built default guest: Debian's cloud kernel and our initramfs.</summary>
public sealed record DefaultGuest(string KernelPath, string InitrdPath, string KernelRelease);

/// <summary>
/// Builds and caches the default guest from Debian's packages, without installing them on the host:
/// the kernel behind <c>linux-image-cloud-amd64</c> and an initramfs of <c>busybox-static</c>, the
/// virtio modules and <see cref="DefaultGuestInit"/>. The cache holds vmlinuz, initrd.img and a
/// "release" file written last (so a build cut short is rebuilt); it is reused until rebuilt with force.
/// </summary>
public static class DefaultGuestImage
{
    public const string KernelMetaPackage = "linux-image-cloud-amd64";
    public const string BusyboxPackage = "busybox-static";

    /// <summary>
    /// The modules the cloud kernel builds as modules (CONFIG_VIRTIO*=m) for the virtio devices a VMM
    /// offers, and the ACPI power button with the event interface busybox's acpid reads it through
    /// (CONFIG_ACPI_BUTTON=m, CONFIG_INPUT_EVDEV=m); dependencies (virtio_ring, the PCI transport
    /// libraries, vsock, failover) follow from each module's modinfo.
    /// </summary>
    public static readonly IReadOnlyList<string> GuestModules =
    [
        "virtio", "virtio_ring", "virtio_pci", "virtio_blk", "virtio_net", "virtio_console",
        "virtio_rng", "virtio_balloon", "vmw_vsock_virtio_transport", "button", "evdev", "fuse", "virtiofs",
    ];

    /// <summary>Bumped when what a cached guest holds changes (its /init, its modules): an older cache is built again.</summary>
    public const int ImageFormat = 4;

    private const string KernelFile = "vmlinuz", InitrdFile = "initrd.img", ReleaseFile = "release", FormatFile = "format";

    /// <summary>$XDG_CACHE_HOME/kvmsharp/default-guest, or ~/.cache/kvmsharp/default-guest.</summary>
    public static string DefaultCacheDirectory => Path.Combine(CacheRoot, "default-guest");

    /// <summary>$XDG_CACHE_HOME/kvmsharp, or ~/.cache/kvmsharp: where what KvmSharp fetches or builds once is kept.</summary>
    public static string CacheRoot
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "kvmsharp");
        }
    }

    /// <summary>The cached guest, or null when none is complete.</summary>
    public static DefaultGuest? TryOpen(string cacheDirectory)
    {
        string kernel = Path.Combine(cacheDirectory, KernelFile), initrd = Path.Combine(cacheDirectory, InitrdFile);
        string release = Path.Combine(cacheDirectory, ReleaseFile);
        if (!File.Exists(kernel) || !File.Exists(initrd) || !File.Exists(release)) return null;
        string format = Path.Combine(cacheDirectory, FormatFile);
        if (!File.Exists(format) || File.ReadAllText(format).Trim() != ImageFormat.ToString(System.Globalization.CultureInfo.InvariantCulture)) return null;
        return new DefaultGuest(kernel, initrd, File.ReadAllText(release).Trim());
    }

    /// <summary>
    /// Returns the cached guest, building it first when there is none or when <paramref name="force"/> asks.
    /// A rebuild that fails leaves the cached guest as it was.
    /// </summary>
    /// <param name="aptToolDirectory">Where apt-get, apt-cache and dpkg are; null: found on PATH.</param>
    public static DefaultGuest Ensure(string cacheDirectory, bool force, Action<string> progress, string? aptToolDirectory = null)
    {
        Directory.CreateDirectory(cacheDirectory);
        using var buildLock = CacheLock.Acquire(Path.Combine(cacheDirectory, ".lock"), progress);
        if (!force && TryOpen(cacheDirectory) is { } cached) return cached;
        return Build(cacheDirectory, progress, aptToolDirectory);
    }

    private static DefaultGuest Build(string cacheDirectory, Action<string> progress, string? aptToolDirectory)
    {
        var watch = Stopwatch.StartNew();
        progress($"kvmsharp: building the default guest in {cacheDirectory} from Debian's packages (once; 'kvmsharp image pull --force' rebuilds it)");
        string work = Path.Combine(cacheDirectory, "work");
        var packages = new DebianPackages(Path.Combine(work, "debs"), progress, aptToolDirectory);
        try
        {
            string kernelPackage = packages.ResolveDependency(KernelMetaPackage, "linux-image-");
            string kernelRoot = Path.Combine(work, "kernel"), busyboxRoot = Path.Combine(work, "busybox");
            packages.Extract(packages.Download(kernelPackage), kernelRoot);
            packages.Extract(packages.Download(BusyboxPackage), busyboxRoot);

            var (vmlinuz, release) = FindKernel(kernelRoot, kernelPackage);
            progress($"kvmsharp: building the initramfs (busybox, virtio and power-button modules for {release})");
            byte[] initrd = InitramfsBuilder.Build(kernelRoot, release, Path.Combine(busyboxRoot, "bin", "busybox"), GuestModules);

            // The release file goes first and comes back last: a build cut short here is no guest at all.
            File.Delete(Path.Combine(cacheDirectory, ReleaseFile));
            File.Copy(vmlinuz, Path.Combine(cacheDirectory, KernelFile), overwrite: true);
            File.WriteAllBytes(Path.Combine(cacheDirectory, InitrdFile), initrd);
            File.WriteAllText(Path.Combine(cacheDirectory, FormatFile), ImageFormat + "\n");
            File.WriteAllText(Path.Combine(cacheDirectory, ReleaseFile), release + "\n");
            progress($"kvmsharp: default guest ready in {cacheDirectory} ({watch.Elapsed.TotalSeconds:F0} s)");
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
        return TryOpen(cacheDirectory) ?? throw new GuestImageException($"the default guest in {cacheDirectory} vanished while it was built");
    }

    private static (string Vmlinuz, string Release) FindKernel(string kernelRoot, string package)
    {
        var boot = new DirectoryInfo(Path.Combine(kernelRoot, "boot"));
        var vmlinuz = boot.Exists ? boot.GetFiles("vmlinuz-*").OrderBy(f => f.Name, StringComparer.Ordinal).LastOrDefault() : null;
        if (vmlinuz is null) throw new GuestImageException($"{package} has no boot/vmlinuz-*");
        string release = vmlinuz.Name["vmlinuz-".Length..];
        if (!Directory.Exists(Path.Combine(kernelRoot, "lib", "modules", release)))
            throw new GuestImageException($"{package} has no lib/modules/{release} for its {vmlinuz.Name}");
        return (vmlinuz.FullName, release);
    }

    /// <summary>One build at a time per cache (test classes and processes share it): an exclusive lock file, waited for.</summary>
    private sealed class CacheLock : IDisposable
    {
        private readonly FileStream _file;
        private CacheLock(FileStream file) => _file = file;

        public static CacheLock Acquire(string path, Action<string> progress)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
            bool told = false;
            while (true)
            {
                try
                {
                    // On Unix, FileShare.None takes flock(LOCK_EX): released by the kernel if we die.
                    return new CacheLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
                }
                catch (IOException) when (DateTime.UtcNow < deadline)
                {
                    if (!told) progress($"kvmsharp: waiting for another build of the default guest ({path})");
                    told = true;
                    Thread.Sleep(200);
                }
            }
        }

        public void Dispose() => _file.Dispose();
    }
}
