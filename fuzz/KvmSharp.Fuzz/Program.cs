using SharpFuzz;

namespace KvmSharp.Fuzz;

/// <summary>
/// kvmsharp-fuzz TARGET                 run under afl-fuzz (SharpFuzz's fork server; one input per iteration)
/// kvmsharp-fuzz TARGET --replay PATH…  run files (or every file in folders) once each, naming findings
/// kvmsharp-fuzz --write-corpus DIR     write every target's seeds to DIR/TARGET/
/// kvmsharp-fuzz --list                 name the targets
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
            return Usage(Console.Out, 0);
        if (args[0] == "--list")
        {
            foreach (var t in FuzzTargets.All) Console.WriteLine($"{t.Name,-14} {t.Description}");
            return 0;
        }
        if (args[0] == "--write-corpus")
            return args.Length == 2 ? CorpusWriter.Write(args[1]) : Usage(Console.Error, 2);

        if (FuzzTargets.Find(args[0]) is not { } target)
        {
            Console.Error.WriteLine($"unknown fuzz target '{args[0]}'; --list names them");
            return 2;
        }
        if (args.Length > 1 && args[1] == "--replay")
            return Replay.Run(target, args[2..], Console.Out);
        if (args.Length > 1)
            return Usage(Console.Error, 2);

        // Under afl-fuzz: SharpFuzz speaks AFL's fork-server protocol and hands us each input. An exception the
        // target does not expect escapes and is reported to afl as a crash.
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            target.Accepts(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        });
        return 0;
    }

    private static int Usage(TextWriter writer, int status)
    {
        writer.WriteLine("usage: KvmSharp.Fuzz TARGET [--replay PATH...] | --write-corpus DIR | --list");
        return status;
    }
}
