namespace KvmSharp.Fuzz;

/// <summary>A private folder for the files a target needs (a disk, a shared directory, a socket), removed at exit; fuzz/run also sweeps them.</summary>
public static class Scratch
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"kvmsharp-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(path, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        };
        return path;
    });

    public static string PathOf(string name) => Path.Combine(Root.Value, name);
}
