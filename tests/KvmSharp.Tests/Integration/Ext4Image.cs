namespace KvmSharp.Tests.Integration;

/// <summary>ext4 disk images for guests, made and read on the host with e2fsprogs (mkfs.ext4 -d, debugfs), never by our own code.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class Ext4Image
{
    /// <summary>A raw ext4 image of <paramref name="sizeMiB"/> MiB at <paramref name="path"/> holding <paramref name="files"/> (name → content, mode 0755).</summary>
    public static void Create(string path, int sizeMiB, IReadOnlyDictionary<string, byte[]> files)
    {
        string content = Directory.CreateTempSubdirectory("kvmsharp-ext4-").FullName;
        try
        {
            foreach (var (name, bytes) in files)
            {
                string file = Path.Combine(content, name);
                File.WriteAllBytes(file, bytes);
                File.SetUnixFileMode(file, (UnixFileMode)0b111_101_101);
            }
            HostTool.Run("mkfs.ext4", "-q", "-F", "-d", content, path, $"{sizeMiB}M");
        }
        finally
        {
            Directory.Delete(content, recursive: true);
        }
    }

    /// <summary>The contents of <paramref name="name"/> in the image's root directory, read with debugfs; null when it is not there.</summary>
    public static byte[]? ReadFile(string image, string name)
    {
        string output = Path.GetTempFileName();
        try
        {
            File.Delete(output);
            HostTool.Run("debugfs", "-R", $"dump /{name} {output}", image);
            return File.Exists(output) ? File.ReadAllBytes(output) : null;
        }
        finally
        {
            File.Delete(output);
        }
    }
}
