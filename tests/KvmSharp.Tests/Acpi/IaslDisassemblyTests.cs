using System.Diagnostics;
using KvmSharp.Boot.Acpi;
using KvmSharp.Devices.Acpi;
using KvmSharp.Devices.Pci;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Acpi;

/// <summary>
/// Feeds every table to ACPICA's disassembler, the reference implementation of the tables' grammar.
/// Needs <c>iasl</c> on PATH (Debian: acpica-tools); without it the test fails rather than passing silently.
/// </summary>
public class IaslDisassemblyTests
{
    [Fact]
    public void IaslDisassemblesEveryTableWithoutErrors()
    {
        string iasl = FindOnPath("iasl") ?? throw new InvalidOperationException("iasl not found on PATH: install acpica-tools");
        string dir = Directory.CreateTempSubdirectory("kvmsharp-acpi-").FullName;
        try
        {
            using var memory = GuestMemory.Create(4 << 20);
            IAcpiDevice[] devices =
            [
                new SampleSerialDevice("COM1", 0x3F8, 4),
                new SampleSerialDevice("COM2", 0x2F8, 3),
                new AcpiPowerManagement(new RecordingMachineControl()),
                new PciHostBridgeAml([new PciWindow(0xC000_0000, 0x2000_0000)]),
            ];
            var rsdp = AcpiTables.Build(memory, AcpiPlatform.Default(4), devices, [Mcfg.Build(0xE000_0000, 0, 0)]);
            var tables = AcpiTableReader.ReadAll(memory, rsdp);
            // The RSDP is left to the checksum tests: iasl (as of 20200925) refuses a raw RSDP as "not a valid ACPI table".

            foreach (var (signature, table) in tables)
            {
                string path = Path.Combine(dir, signature.ToLowerInvariant() + ".dat");
                File.WriteAllBytes(path, table);
                var (exitCode, output) = Run(iasl, dir, "-d", path);
                Assert.True(exitCode == 0, $"iasl -d {signature} exited {exitCode}:\n{output}");
                Assert.DoesNotContain("Error", output, StringComparison.Ordinal);
            }

            string dsl = File.ReadAllText(Path.Combine(dir, "dsdt.dsl"));
            foreach (string name in new[] { "COM1", "COM2", "PMIO", "C000", "C003", "_S5_", "PNP0501", "PNP0C02", "ACPI0007" })
                Assert.Contains(name, dsl, StringComparison.Ordinal);
            Assert.Contains("IO (Decode16,", dsl, StringComparison.Ordinal);
            Assert.Contains("IRQNoFlags", dsl, StringComparison.Ordinal);
            // The PCI root: its IDs, windows and interrupt routing (slot 1 INTA# → GSI 17, PciInterruptRouting).
            foreach (string name in new[] { "PCI0", "PNP0A08", "PNP0A03", "WordBusNumber", "WordIO", "DWordMemory", "0xC0000000", "0xDFFFFFFF", "_PRT" })
                Assert.Contains(name, dsl, StringComparison.Ordinal);
            Assert.Matches(@"Package \(0x04\)\s*\{\s*0x0001FFFF,\s*Zero,\s*Zero,\s*0x11\s*\}", dsl);

            string mcfg = File.ReadAllText(Path.Combine(dir, "mcfg.dsl"));
            Assert.Contains("Base Address : 00000000E0000000", mcfg, StringComparison.Ordinal);

            string madt = File.ReadAllText(Path.Combine(dir, "apic.dsl"));
            Assert.Equal(4, CountOccurrences(madt, "Processor Local APIC"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int CountOccurrences(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);

    private static (int ExitCode, string Output) Run(string program, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
