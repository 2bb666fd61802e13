using KvmSharp.Storage;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Tests.Storage;

/// <summary>
/// The host file under a qcow2 image, recording every write and fdatasync in order, so a test can rebuild the file as
/// a crash at any point would leave it: a process crash keeps a prefix of the writes (they reached the page cache in
/// order); a host crash keeps everything before the last fdatasync and any subset of the writes since.
/// Hole punching is refused (a hole only saves space; the model keeps the bytes).
/// </summary>
internal sealed class RecordingImageFile(SafeFileHandle handle) : ImageFile(handle)
{
    /// <summary>One entry per write (offset and bytes) or fdatasync (null).</summary>
    public List<(long Offset, byte[] Data)?> Log { get; } = [];

    /// <summary>When set, a write that would reach at or past this length fails as a full disk would (ENOSPC).</summary>
    public long? SpaceLimit { get; set; }

    /// <summary>How many reads the image made of its file.</summary>
    public int Reads { get; private set; }

    public override void Read(long offset, Span<byte> destination)
    {
        Reads++;
        base.Read(offset, destination);
    }

    public override void Write(long offset, ReadOnlySpan<byte> data)
    {
        if (SpaceLimit is { } limit && offset + data.Length > limit && offset + data.Length > Length)
            throw new IOException("No space left on device");
        Log.Add((offset, data.ToArray()));
        base.Write(offset, data);
    }

    public override void Sync()
    {
        Log.Add(null);
        base.Sync();
    }

    public override bool TryPunchHole(long offset, long length) => false;

    /// <summary>Applies log entries [from, to) to <paramref name="image"/> (a byte copy of the file).</summary>
    public void Apply(List<byte> image, int from, int to)
    {
        for (int i = from; i < to; i++)
            if (Log[i] is var (offset, data)) ApplyOne(image, offset, data);
    }

    public static void ApplyOne(List<byte> image, long offset, byte[] data)
    {
        while (image.Count < offset + data.Length) image.Add(0);
        for (int j = 0; j < data.Length; j++) image[(int)offset + j] = data[j];
    }
}
