using System.Diagnostics;
using KvmSharp.Machine.Images.BootDisks;

namespace KvmSharp.Tests.Images;

/// <summary>Our GPT as util-linux's libblkid reads it (partx): both copies, their CRCs, the entries.</summary>
public class GptPartitionTableTests
{
    private static readonly Guid First = new("11111111-2222-3333-4444-555555555555"), Second = new("66666666-7777-8888-9999-aaaaaaaaaaaa");

    private static string Partx(string disk)
    {
        var start = new ProcessStartInfo("partx") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--show", "--noheadings", "--output", "NR,START,END,NAME,UUID,TYPE", disk }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        // Columns are padded with spaces; one space between fields keeps the comparison about the values.
        return string.Join('\n', output.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Replace(line.Trim(), " +", " ")));
    }

    [Fact]
    public void PartxReadsThePartitionsFromThePrimaryTableAndFromTheBackupWhenThePrimaryIsDamaged()
    {
        Assert.SkipUnless(File.Exists("/usr/bin/partx"), "util-linux's partx is not installed");
        string disk = Path.GetTempFileName();
        try
        {
            const ulong sectors = (64UL << 20) / 512;
            using (var file = File.Create(disk)) file.SetLength((long)sectors * 512);
            using (var handle = File.OpenHandle(disk, FileMode.Open, FileAccess.ReadWrite))
                GptPartitionTable.Write(handle, sectors, Guid.NewGuid(),
                [
                    new GptPartition(GptPartitionTable.EfiSystemPartition, First, 2048, 4095, "EFI system partition"),
                    new GptPartition(GptPartitionTable.LinuxFilesystem, Second, 4096, GptPartitionTable.LastUsableLba(sectors), "root"),
                ]);
            string expected =
                $"1 2048 4095 EFI system partition {First} {GptPartitionTable.EfiSystemPartition}\n" +
                $"2 4096 {GptPartitionTable.LastUsableLba(sectors)} root {Second} {GptPartitionTable.LinuxFilesystem}\n";
            Assert.Equal(expected, Partx(disk));

            // A flipped byte in the primary header breaks its CRC: libblkid then reads the backup at the disk's end.
            using (var handle = File.OpenHandle(disk, FileMode.Open, FileAccess.ReadWrite))
                RandomAccess.Write(handle, new byte[] { 0x5A }, 512 + 40);
            Assert.Equal(expected, Partx(disk));
        }
        finally
        {
            File.Delete(disk);
        }
    }

    [Fact]
    public void APartitionOutsideTheUsableSectorsIsRefused()
    {
        using var handle = File.OpenHandle(Path.GetTempFileName(), FileMode.Open, FileAccess.ReadWrite, options: FileOptions.DeleteOnClose);
        Assert.Throws<ArgumentException>(() => GptPartitionTable.Write(handle, 4096, Guid.NewGuid(),
            [new GptPartition(GptPartitionTable.LinuxFilesystem, First, 2048, 4096 - 1, "past the backup table")]));
        Assert.Throws<ArgumentException>(() => GptPartitionTable.Write(handle, 4096, Guid.NewGuid(),
            [new GptPartition(GptPartitionTable.LinuxFilesystem, First, 10, 100, "over the primary table")]));
    }
}
