using System.ComponentModel;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace KvmSharp.Machine.Images;

/// <summary>
/// Lays out the default guest's initramfs (gzip-compressed newc cpio): busybox and a link for each of
/// its applets, the DHCP hook (<see cref="DefaultGuestDhcp"/>), the wanted kernel modules and their dependencies under lib/modules/RELEASE, /dev/console
/// (the kernel opens it for init before any /dev is mounted), and /init.
/// </summary>
public static class InitramfsBuilder
{
    private static readonly string[] TopFolders = ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "root", "etc", "tmp"];

    public static byte[] Build(string kernelRoot, string release, string busyboxPath, IEnumerable<string> wantedModules)
    {
        string modulesRoot = Path.Combine(kernelRoot, "lib", "modules", release);
        var moduleFiles = IndexModules(modulesRoot);
        var infos = new Dictionary<string, KernelModuleInfo>(StringComparer.Ordinal);
        IReadOnlyList<string>? DependsOf(string name)
        {
            if (!moduleFiles.TryGetValue(name, out var file)) return null;
            if (!infos.TryGetValue(name, out var info)) infos[name] = info = KernelModuleInfo.Read(file);
            return info.Depends;
        }
        var order = ModuleLoadOrder.Resolve(wantedModules, DependsOf);

        var modulePaths = order.Select(n => $"lib/modules/{release}/{Path.GetRelativePath(modulesRoot, moduleFiles[n])}").ToArray();

        var files = new SortedDictionary<string, Action<CpioNewcWriter, string>>(StringComparer.Ordinal);
        for (int i = 0; i < order.Count; i++)
        {
            string source = moduleFiles[order[i]];
            files[modulePaths[i]] = (cpio, path) => cpio.AddFile(path, File.ReadAllBytes(source));
        }
        byte[] busybox = File.ReadAllBytes(busyboxPath);
        files["bin/busybox"] = (cpio, path) => cpio.AddFile(path, busybox, 0x1ED);
        foreach (var applet in BusyboxApplets(busyboxPath))
            files.TryAdd(applet, (cpio, path) => cpio.AddSymlink(path, "/bin/busybox"));
        files[DefaultGuestDhcp.ScriptPath] = (cpio, path) => cpio.AddFile(path, Encoding.UTF8.GetBytes(DefaultGuestDhcp.Script), 0x1ED);
        files["init"] = (cpio, path) => cpio.AddFile(path, Encoding.UTF8.GetBytes(DefaultGuestInit.Build(modulePaths)), 0x1ED);

        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            var cpio = new CpioNewcWriter(gzip);
            var made = new HashSet<string>(StringComparer.Ordinal);
            foreach (var dir in TopFolders)
            {
                cpio.AddDirectory(dir, dir == "tmp" ? 0x3FFu /* 01777 */ : 0x1EDu /* 0755 */);
                made.Add(dir);
            }
            cpio.AddCharDevice("dev/console", 5, 1);   // Documentation/admin-guide/devices.txt: 5,1 = /dev/console
            foreach (var (path, add) in files)
            {
                // The kernel's unpacker creates no parent folders: each comes before what it holds.
                string? parent = Path.GetDirectoryName(path);
                var missing = new Stack<string>();
                for (; !string.IsNullOrEmpty(parent) && !made.Contains(parent); parent = Path.GetDirectoryName(parent))
                    missing.Push(parent);
                foreach (var dir in missing) { cpio.AddDirectory(dir); made.Add(dir); }
                add(cpio, path);
            }
            cpio.Finish();
        }
        return output.ToArray();
    }

    /// <summary>Module name ('-' as '_') → its .ko file. Debian 12's cloud kernel ships them uncompressed (CONFIG_MODULE_COMPRESS_NONE).</summary>
    private static Dictionary<string, string> IndexModules(string modulesRoot)
    {
        var index = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(modulesRoot, "*.ko", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            index.TryAdd(KernelModuleInfo.CanonicalName(Path.GetFileNameWithoutExtension(file)), file);
        return index;
    }

    /// <summary>Where busybox installs each applet ("usr/bin/awk"), as its own <c>--list-full</c> says. The static binary runs on any x86-64 Linux host.</summary>
    private static IEnumerable<string> BusyboxApplets(string busyboxPath)
    {
        var start = new ProcessStartInfo(busyboxPath, ["--list-full"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var process = Process.Start(start) ?? throw new GuestImageException($"could not run {busyboxPath}");
            string list = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new GuestImageException($"{busyboxPath} --list-full failed (exit status {process.ExitCode})");
            return list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(p => p != "bin/busybox" && !p.StartsWith('/') && !p.Split('/').Contains(".."))
                .ToArray();
        }
        catch (Win32Exception e)
        {
            throw new GuestImageException($"cannot run {busyboxPath} to list its applets: {e.Message}");
        }
    }
}
