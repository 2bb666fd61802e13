using System.Buffers.Binary;
using System.Text;
using KvmSharp.Storage;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// The attack issue 13 names: a guest writes a qcow2 header whose backing file is a host file into sector 0 of its
/// raw disk, which was started without a format, hoping the next start probes the disk as qcow2 and shows it the host
/// file. The guest's write must fail (an I/O error), the disk must stay raw on the host, and an ordinary write to the
/// same sector (an MBR, say) must still work, so the refusal is the header's and not the sector's.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GuestWrittenHeaderTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void AGuestCannotTurnItsRawDiskIntoAQcow2NamingAHostFile()
    {
        Assert.NotNull(guest.Guest);
        string secret = _scratch.PathOf("host-secret");
        File.WriteAllText(secret, "host secret that no guest may read\n");
        string disk = _scratch.PathOf("disk.img");
        using (var file = File.Create(disk)) file.SetLength(16 << 20);

        // Only the bytes up to the name travel (the kernel command line holds 2 KiB); dd's conv=sync pads the sector with zeros.
        string header = Convert.ToBase64String(Qcow2HeaderNaming(secret));
        string ordinary = Convert.ToBase64String(Encoding.ASCII.GetBytes("an ordinary first sector\n"));
        string script =
            $"echo {header} | base64 -d | dd of=/dev/vda bs=512 count=1 oflag=direct conv=sync,fsync 2>/dev/null; echo header-dd $?; " +
            $"echo {ordinary} | base64 -d | dd of=/dev/vda bs=512 count=1 oflag=direct conv=sync,fsync 2>/dev/null; echo ordinary-dd $?";
        // No format= on purpose: the disk is probed, which is what the attack relies on.
        using var vmm = new VmmProcess("run", "--accel", "emulate", "--icount", "0", "--exec", script, "--disk", disk);
        vmm.WaitUntil(() => vmm.HasExited, "the guest to finish its writes", seconds: 600);
        Assert.True(vmm.ExitCode == 0, $"kvmsharp exited {vmm.ExitCode}: {vmm.Stdout} {vmm.Stderr}");

        Assert.Contains("header-dd 1", vmm.Stdout);     // refused: the guest saw an I/O error
        Assert.Contains("ordinary-dd 0", vmm.Stdout);   // the same sector takes other bytes
        Assert.Equal("raw", DiskImage.Probe(disk));
        byte[] first = new byte[25];
        using (var file = File.OpenRead(disk)) file.ReadExactly(first);
        Assert.Equal("an ordinary first sector\n", Encoding.ASCII.GetString(first));
    }

    /// <summary>A plausible qcow2 v3 header (qcow2.txt "Header") whose backing file is <paramref name="backing"/>, up to the name's end.</summary>
    private static byte[] Qcow2HeaderNaming(string backing)
    {
        byte[] name = Encoding.UTF8.GetBytes(backing);
        var sector = new byte[0x100 + name.Length];
        var s = sector.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(s, 0x514649FB);           // magic "QFI\xfb"
        BinaryPrimitives.WriteUInt32BigEndian(s[4..], 3);               // version
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], 0x100);           // backing_file_offset
        BinaryPrimitives.WriteUInt32BigEndian(s[16..], (uint)name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(s[20..], 16);             // cluster_bits
        BinaryPrimitives.WriteUInt64BigEndian(s[24..], 16 << 20);       // size
        BinaryPrimitives.WriteUInt32BigEndian(s[36..], 1);              // l1_size
        BinaryPrimitives.WriteUInt64BigEndian(s[40..], 0x10000);        // l1_table_offset
        BinaryPrimitives.WriteUInt64BigEndian(s[48..], 0x20000);        // refcount_table_offset
        BinaryPrimitives.WriteUInt32BigEndian(s[56..], 1);              // refcount_table_clusters
        BinaryPrimitives.WriteUInt32BigEndian(s[96..], 4);              // refcount_order
        BinaryPrimitives.WriteUInt32BigEndian(s[100..], 104);           // header_length
        name.CopyTo(s[0x100..]);
        return sector;
    }
}
