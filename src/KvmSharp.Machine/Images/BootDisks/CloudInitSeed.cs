
namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// cloud-init's NoCloud seed (cloud-init docs, "NoCloud"): an ISO 9660 volume labelled "cidata" holding user-data and
/// meta-data, written by Debian's genisoimage with Rock Ridge and Joliet names (plain ISO 9660 cannot spell
/// "user-data"). Attached to the guest as a read-only disk, it configures a stock cloud image on its first boot
/// (users, passwords, SSH keys) without touching the image.
/// </summary>
public static class CloudInitSeed
{
    public const string Label = "cidata";

    /// <summary>Writes the seed to <paramref name="output"/>; without meta-data, one naming a fresh instance id (so cloud-init runs its first-boot modules).</summary>
    public static void Write(string output, string userDataPath, string? metaDataPath)
    {
        string work = Directory.CreateTempSubdirectory("kvmsharp-cidata").FullName;
        try
        {
            string userData = Path.Combine(work, "user-data"), metaData = Path.Combine(work, "meta-data");
            Copy(userDataPath, userData, "user-data");
            if (metaDataPath is null) File.WriteAllText(metaData, $"instance-id: kvmsharp-{Guid.NewGuid():N}\n");
            else Copy(metaDataPath, metaData, "meta-data");
            HostTool.Run("genisoimage", ["-quiet", "-output", output, "-volid", Label, "-joliet", "-rock", userData, metaData],
                "a cloud-init seed is written by genisoimage: install Debian's genisoimage package");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Copy(string from, string to, string what)
    {
        try
        {
            File.Copy(from, to);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GuestImageException($"cannot read the {what} file {from}: {e.Message}");
        }
    }
}
