namespace KvmSharp.Fuzz;

/// <summary>Writes every target's seeds (made by our own code) to DIR/TARGET/NAME, the corpus fuzz/run starts from.</summary>
public static class CorpusWriter
{
    public static int Write(string directory)
    {
        foreach (var target in FuzzTargets.All)
        {
            string folder = Path.Combine(directory, target.Name);
            Directory.CreateDirectory(folder);
            int count = 0;
            foreach (var seed in target.Seeds())
            {
                File.WriteAllBytes(Path.Combine(folder, seed.Name), seed.Bytes);
                count++;
            }
            Console.WriteLine($"{target.Name}: {count} seeds in {folder}");
        }
        return 0;
    }
}
