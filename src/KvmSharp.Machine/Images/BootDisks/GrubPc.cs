namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// GRUB for BIOS machines from Debian's packages, unpacked rather than installed (nothing on the host changes):
/// <c>grub-pc-bin</c> has the i386-pc modules, boot.img and diskboot.img; <c>grub-common</c> has grub-mkimage.
/// Kept under KvmSharp's cache (~/.cache/kvmsharp/grub-pc) and reused; <see cref="Ensure"/> fetches them once.
/// </summary>
public sealed class GrubPc
{
    private GrubPc(string root) => Root = root;

    /// <summary>Where the packages were unpacked (their usr/… tree).</summary>
    public string Root { get; }

    public string ModuleDirectory => Path.Combine(Root, "usr", "lib", "grub", "i386-pc");

    public string MkImage => Path.Combine(Root, "usr", "bin", "grub-mkimage");

    /// <summary>GRUB's first stage: the MBR's boot code, which loads the sector after it (core.img).</summary>
    public string BootImage => Path.Combine(ModuleDirectory, "boot.img");

    /// <summary>GRUB unpacked under <paramref name="cacheDirectory"/>/grub-pc, fetched from Debian when missing.</summary>
    public static GrubPc Ensure(string cacheDirectory, Action<string> progress, string? aptToolDirectory = null)
    {
        string root = Path.Combine(cacheDirectory, "grub-pc");
        var grub = new GrubPc(root);
        if (File.Exists(Path.Combine(root, ".complete")) && File.Exists(grub.MkImage) && File.Exists(grub.BootImage)) return grub;
        string work = root + ".work";
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        var packages = new DebianPackages(Path.Combine(work, "debs"), progress, aptToolDirectory);
        string unpacked = Path.Combine(work, "root"), part = Path.Combine(work, "part");
        foreach (var package in new[] { "grub-pc-bin", "grub-common" })
        {
            packages.Extract(packages.Download(package), part);
            CopyTree(part, unpacked);
        }
        File.WriteAllText(Path.Combine(unpacked, ".complete"), "");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.Move(unpacked, root);
        Directory.Delete(work, recursive: true);
        return grub;
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(file);
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            if (info.LinkTarget is { } link) { if (!File.Exists(target)) File.CreateSymbolicLink(target, link); }
            else info.CopyTo(target, overwrite: true);
        }
    }
}
