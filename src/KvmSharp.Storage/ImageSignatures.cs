using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Storage;

/// <summary>
/// The first-sector signatures of image formats that can name other host files (backing files, extents, data files).
/// A raw disk whose guest wrote one of these would be read as that format by anything that probes it (qemu-img, a
/// VMM started without a format) and could then hand the guest any file on the host. QEMU's raw driver refuses, in its
/// write path, a write to the first sector of a probed raw image whose result would probe as another format (the
/// guest sees EPERM as an I/O error); we refuse them on every writable raw disk (see <see cref="RawImage"/>).
/// </summary>
internal static class ImageSignatures
{
    /// <summary>Bytes of sector 0 that decide a probe.</summary>
    public const int ProbeBytes = 512;

    private static readonly byte[] VmdkDescriptor = Encoding.ASCII.GetBytes("# Disk DescriptorFile");

    /// <summary>The format a probe of <paramref name="sector0"/> would find, or null for plain data.</summary>
    public static string? Recognize(ReadOnlySpan<byte> sector0)
    {
        if (sector0.Length < 8) return null;
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(sector0);
        return magic switch
        {
            Qcow2Header.Magic => "qcow2",             // qcow and qcow2 share "QFI\xfb" (qcow2.txt)
            0x51454400 => "qed",                      // "QED\0" (qed spec)
            0x4B444D56 or 0x434F5744 => "vmdk",       // "KDMV" sparse extent, "COWD" ESX sparse (VMDK spec)
            0x4C554B53 when sector0[4] == 0xBA && sector0[5] == 0xBE => "luks",   // "LUKS\xba\xbe" (LUKS on-disk format)
            _ when sector0.StartsWith("vhdxfile"u8) => "vhdx",            // VHDX file type identifier (MS-VHDX 2.2.1)
            _ when sector0.StartsWith(VmdkDescriptor) => "vmdk",
            _ => null,
        };
    }
}
