using KvmSharp.Manager.Domains;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// One vol-upload or vol-download: the volume's open file and the byte range the stream covers. Uploads never write
/// past the end of the file: a chunk that would cross it is refused whole (nothing of it written).
/// </summary>
public sealed class VolumeTransfer : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly string _name;
    private readonly bool _upload;
    private long _position;

    private VolumeTransfer(SafeFileHandle file, string name, long start, long end, bool upload)
    {
        _file = file;
        _name = name;
        _position = start;
        End = end;
        _upload = upload;
    }

    /// <summary>Where the stream's bytes end (exclusive).</summary>
    public long End { get; }

    public long Position => _position;

    internal static VolumeTransfer Open(SafeFileHandle file, string name, ulong offset, ulong length, bool upload)
    {
        try
        {
            long size = RandomAccess.GetLength(file);
            if (offset > (ulong)size)
                throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: offset {offset} is past the end of volume '{name}' ({size} bytes)");
            if (length > (ulong)size - offset)
            {
                // A download stops at the end, as libvirt's; an upload of a stated length that does not fit is refused before any byte.
                if (upload)
                    throw new ManagerException(ManagerError.InvalidArg,
                        $"invalid argument: {length} bytes from offset {offset} run past the end of volume '{name}' ({size} bytes)");
                length = (ulong)size - offset;
            }
            long end = length == 0 ? size : (long)(offset + length);
            return new VolumeTransfer(file, name, (long)offset, end, upload);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Writes the next chunk of an upload.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        if (!_upload) throw new InvalidOperationException("a download takes no data");
        if (data.Length > End - _position)
            throw new ManagerException(ManagerError.InvalidArg,
                $"invalid argument: the upload runs past the end of volume '{_name}' ({End} bytes); the bytes from {_position} on were not written");
        RandomAccess.Write(_file, data, _position);
        _position += data.Length;
    }

    /// <summary>Reads the next chunk of a download into <paramref name="buffer"/>; 0 at the end.</summary>
    public int Read(Span<byte> buffer)
    {
        int want = (int)Math.Min(buffer.Length, End - _position);
        if (want <= 0) return 0;
        int n = RandomAccess.Read(_file, buffer[..want], _position);
        _position += n;
        return n;
    }

    /// <summary>An upload's end: its bytes on disk before the client hears it finished.</summary>
    public void Complete()
    {
        if (_upload) VolumeFile.Sync(_file);
    }

    public void Dispose() => _file.Dispose();
}
