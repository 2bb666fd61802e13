using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.Storage;

namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// Serves one virtio-blk request (virtio 1.2 §5.2.6) against an <see cref="IBlockBackend"/>: parses the
/// header from the readable stream, checks it, moves the data directly between guest buffers and the
/// backend, and writes the status byte.
/// <para>
/// Decisions about hostile requests. Anything the driver got wrong but that still ends in a writable
/// byte is answered there: a header shorter than 16 bytes (or placed in writable buffers), data not a
/// multiple of 512 bytes, sectors past the end, writes to a read-only disk and malformed segment lists
/// get IOERR; an unknown type gets UNSUPP. A chain with no writable byte at all cannot be answered, so
/// <see cref="Handle"/> returns null and the device sets NEEDS_RESET. Host failures (an I/O error, a
/// corrupt image) become IOERR too: the guest sees a failing disk, the VMM keeps running.
/// </para>
/// </summary>
internal sealed class BlockRequestHandler(IBlockBackend backend, byte[] id, Action<string> onHostError)
{
    private readonly IBlockBackend _backend = backend;
    private readonly byte[] _id = id;
    private readonly ulong _capacitySectors = (ulong)backend.Size >> BlockLimits.SectorShift;

    /// <summary>
    /// Serves the chain in <paramref name="buffers"/> (already loaded) and returns the bytes written into its
    /// writable buffers (status included), or null when it has no status byte to answer in.
    /// </summary>
    public uint? Handle(RequestBuffers buffers)
    {
        if (buffers.WritableLength == 0) return null;
        uint dataWritten = 0;
        byte status;
        try
        {
            status = Serve(buffers, ref dataWritten);
        }
        catch (BlockRequestException)
        {
            status = BlockStatus.IoError;   // the backend's own range/read-only checks: the guest's mistake
        }
        catch (IOException e)
        {
            onHostError(e.Message);
            status = BlockStatus.IoError;
        }
        if (!buffers.TryWriteStatus(status)) return null;
        return dataWritten + 1;
    }

    private byte Serve(RequestBuffers buffers, ref uint dataWritten)
    {
        Span<byte> header = stackalloc byte[BlockLimits.HeaderSize];
        if (buffers.Overflowed || buffers.ReadableLength < BlockLimits.HeaderSize || !buffers.TryRead(0, header))
            return BlockStatus.IoError;
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        ulong payload = buffers.ReadableLength - BlockLimits.HeaderSize;   // bytes after the header
        ulong room = buffers.WritableLength - 1;                            // bytes before the status

        switch (type)
        {
            case BlockRequestType.In:
                if (!CheckRange(sector, room)) return BlockStatus.IoError;
                Transfer(buffers, toGuest: true, sector, room);
                dataWritten = (uint)room;
                return BlockStatus.Ok;
            case BlockRequestType.Out:
                if (_backend.ReadOnly || !CheckRange(sector, payload)) return BlockStatus.IoError;
                Transfer(buffers, toGuest: false, sector, payload);
                return BlockStatus.Ok;
            case BlockRequestType.Flush:
                _backend.Flush();
                return BlockStatus.Ok;
            case BlockRequestType.GetId:
                // §5.2.6.1: 20 bytes; a shorter id is NUL-padded (our _id is already 20 bytes).
                int n = (int)Math.Min(room, BlockLimits.IdSize);
                if (!buffers.TryWrite(0, _id.AsSpan(0, n))) return BlockStatus.IoError;
                dataWritten = (uint)n;
                return BlockStatus.Ok;
            case BlockRequestType.Discard:
            case BlockRequestType.WriteZeroes:
                return _backend.ReadOnly ? BlockStatus.IoError : ServeRanges(buffers, type, payload);
            default:
                return BlockStatus.Unsupported;
        }
    }

    /// <summary>§5.2.6.2: IN/OUT data is whole 512-byte sectors, all of them on the disk.</summary>
    private bool CheckRange(ulong sector, ulong bytes) =>
        bytes % BlockLimits.SectorSize == 0 && sector <= _capacitySectors
        && bytes >> BlockLimits.SectorShift <= _capacitySectors - sector;

    private void Transfer(RequestBuffers buffers, bool toGuest, ulong sector, ulong bytes)
    {
        long disk = (long)(sector << BlockLimits.SectorShift);
        var pieces = buffers.Pieces(writable: toGuest, toGuest ? 0 : (ulong)BlockLimits.HeaderSize, bytes);
        while (pieces.Next(out GuestAddress address, out int length))
        {
            // Descriptor ranges were checked against RAM by the chain walker; a failure here would be our bug.
            var span = buffers.Memory.GetSpan(address, length);
            if (toGuest) _backend.Read(disk, span);
            else _backend.Write(disk, span);
            disk += length;
        }
    }

    /// <summary>
    /// DISCARD and WRITE_ZEROES (§5.2.6): a list of 16-byte segments within the limits we advertise in
    /// config. Every segment is checked before any is applied, so a bad list changes nothing.
    /// </summary>
    private byte ServeRanges(RequestBuffers buffers, uint type, ulong payload)
    {
        if (payload == 0 || payload % BlockLimits.SegmentSize != 0 || payload / BlockLimits.SegmentSize > BlockLimits.MaxRangeSegments)
            return BlockStatus.IoError;
        int segments = (int)(payload / BlockLimits.SegmentSize);
        Span<byte> segment = stackalloc byte[BlockLimits.SegmentSize];
        for (int pass = 0; pass < 2; pass++)
        {
            for (int i = 0; i < segments; i++)
            {
                if (!buffers.TryRead(BlockLimits.HeaderSize + (ulong)i * BlockLimits.SegmentSize, segment)) return BlockStatus.IoError;
                ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(segment);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(segment[8..]);
                uint flags = BinaryPrimitives.ReadUInt32LittleEndian(segment[12..]);
                if (pass == 0)
                {
                    // §5.2.6.2: DISCARD takes no flags; WRITE_ZEROES only UNMAP. Unknown flags → UNSUPP.
                    uint allowed = type == BlockRequestType.WriteZeroes ? BlockLimits.UnmapFlag : 0;
                    if ((flags & ~allowed) != 0) return BlockStatus.Unsupported;
                    if (count > BlockLimits.MaxRangeSectors || !CheckRange(sector, (ulong)count << BlockLimits.SectorShift))
                        return BlockStatus.IoError;
                    continue;
                }
                // The guest may have rewritten the list since pass 0: the backend checks the range again.
                long offset = (long)(sector << BlockLimits.SectorShift);
                long length = (long)count << BlockLimits.SectorShift;
                if (type == BlockRequestType.Discard) _backend.Discard(offset, length);
                else if ((flags & BlockLimits.UnmapFlag) != 0) _backend.WriteZeroes(offset, length);
                else ZeroWithoutUnmap(offset, length);
            }
        }
        return BlockStatus.Ok;
    }

    /// <summary>
    /// WRITE_ZEROES without UNMAP: the sectors must stay allocated (§5.2.6.2), so zeros are written rather
    /// than holes punched. Backend WriteZeroes may deallocate, hence the plain writes.
    /// </summary>
    private void ZeroWithoutUnmap(long offset, long length)
    {
        ReadOnlySpan<byte> zeros = ZeroChunk;
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(zeros.Length, length - done);
            _backend.Write(offset + done, zeros[..n]);
            done += n;
        }
    }

    private static readonly byte[] ZeroChunk = new byte[64 * 1024];

    /// <summary>The GET_ID answer for <paramref name="serial"/>: ASCII, NUL-padded to 20 bytes (§5.2.6.1).</summary>
    public static byte[] EncodeId(string? serial)
    {
        var id = new byte[BlockLimits.IdSize];
        if (serial is not null) System.Text.Encoding.ASCII.GetBytes(serial, id);
        return id;
    }
}
