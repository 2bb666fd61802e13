using KvmSharp.Storage;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>Which firmware a built disk is laid out for.</summary>
public enum BootDiskLayout
{
    /// <summary>MBR, GRUB in the first sectors: SeaBIOS (<c>--firmware bios</c>).</summary>
    Bios,
    /// <summary>GPT, GRUB on an EFI system partition: OVMF (<c>--firmware uefi</c>).</summary>
    Uefi,
}

/// <summary>
/// A bootable disk from a root directory: GRUB for the layout's firmware (unpacked from Debian's packages into
/// KvmSharp's cache) and an ext4 root partition; written as qcow2 when <paramref name="output"/> ends in .qcow2 (by our
/// own qcow2 writer from the raw disk, all-zero clusters left unallocated), raw otherwise.
/// </summary>
public static class BootDisk
{
    public static void WriteImage(string output, ulong size, string rootDirectory, BootDiskLayout layout, Action<string> progress)
    {
        var grub = Grub.Ensure(DefaultGuestImage.CacheRoot, layout == BootDiskLayout.Bios ? GrubTarget.BiosPc : GrubTarget.Efi, progress);
        Action<string> writeRaw = layout == BootDiskLayout.Bios
            ? raw => BiosBootDisk.Write(raw, size, rootDirectory, grub, progress)
            : raw => UefiBootDisk.Write(raw, size, rootDirectory, grub, progress);
        if (!output.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase))
        {
            writeRaw(output);
            return;
        }
        string rawFile = output + ".raw.tmp";
        try
        {
            writeRaw(rawFile);
            progress($"kvmsharp: writing {output} (qcow2)");
            if (File.Exists(output)) File.Delete(output);
            Qcow2Creator.Create(output, (long)size);
            using var source = File.OpenHandle(rawFile, FileMode.Open, FileAccess.Read);
            using var target = DiskImage.Open(output, "qcow2", readOnly: false);
            var buffer = new byte[64 << 10];
            for (long at = 0; at < (long)size; at += buffer.Length)
            {
                int n = RandomAccess.Read(source, buffer, at);
                if (n <= 0) break;
                if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0)) target.Write(at, buffer.AsSpan(0, n));
            }
            target.Flush();
        }
        finally
        {
            File.Delete(rawFile);
        }
    }
}
