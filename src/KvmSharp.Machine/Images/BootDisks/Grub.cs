namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>Which machines a GRUB build boots: its Debian package, grub-mkimage's format and the modules' directory.</summary>
public sealed record GrubTarget(string Package, string Format)
{
    /// <summary>BIOS PCs: <c>grub-pc-bin</c>'s i386-pc modules, boot.img and diskboot.img.</summary>
    public static readonly GrubTarget BiosPc = new("grub-pc-bin", "i386-pc");

    /// <summary>64-bit UEFI: <c>grub-efi-amd64-bin</c>'s x86_64-efi modules; grub-mkimage makes a PE/COFF EFI application.</summary>
    public static readonly GrubTarget Efi = new("grub-efi-amd64-bin", "x86_64-efi");
}

/// <summary>
/// GRUB from Debian's packages, unpacked rather than installed (nothing on the host changes): the target's package
/// has the modules; <c>grub-common</c> has grub-mkimage. Kept under KvmSharp's cache (~/.cache/kvmsharp/grub-pc,
/// …/grub-efi-amd64) and reused; <see cref="Ensure"/> fetches them once.
/// </summary>
public sealed class Grub
{
    private Grub(string root, GrubTarget target)
    {
        Root = root;
        Target = target;
    }

    /// <summary>Where the packages were unpacked (their usr/… tree).</summary>
    public string Root { get; }

    public GrubTarget Target { get; }

    public string ModuleDirectory => Path.Combine(Root, "usr", "lib", "grub", Target.Format);

    public string MkImage => Path.Combine(Root, "usr", "bin", "grub-mkimage");

    /// <summary>GRUB's first stage on a BIOS disk: the MBR's boot code, which loads the sector after it (core.img).</summary>
    public string BootImage => Path.Combine(ModuleDirectory, "boot.img");

    /// <summary>GRUB for <paramref name="target"/> unpacked under <paramref name="cacheDirectory"/>, fetched from Debian when missing.</summary>
    public static Grub Ensure(string cacheDirectory, GrubTarget target, Action<string> progress, string? aptToolDirectory = null)
    {
        string root = Path.Combine(cacheDirectory, target.Package.Replace("-bin", "", StringComparison.Ordinal));
        var grub = new Grub(root, target);
        if (File.Exists(Path.Combine(root, ".complete")) && File.Exists(grub.MkImage) && Directory.Exists(grub.ModuleDirectory)) return grub;
        string work = root + ".work";
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        var packages = new DebianPackages(Path.Combine(work, "debs"), progress, aptToolDirectory);
        string unpacked = Path.Combine(work, "root"), part = Path.Combine(work, "part");
        foreach (var package in new[] { target.Package, "grub-common" })
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

    /// <summary>grub-mkimage for this target: <paramref name="modules"/> built in, the config looked for under <paramref name="prefix"/>.</summary>
    public void MakeImage(string output, string prefix, IEnumerable<string> modules) =>
        HostTool.Run(MkImage, ["-O", Target.Format, "-d", ModuleDirectory, "-o", output, "-p", prefix, .. modules], "GRUB is unpacked from Debian's grub-common");

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
