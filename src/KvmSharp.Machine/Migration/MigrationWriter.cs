using System.Buffers.Binary;
using System.Security.Cryptography;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Migration;

/// <summary>Writes the migration stream (<see cref="MigrationFormat"/>) and reads the destination's replies.</summary>
public sealed class MigrationWriter : IDisposable
{
    private readonly Stream _connection;
    private readonly BufferedStream _out;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _entries = new byte[4 + 8 * MigrationFormat.MaxPagesPerBatch];
    private readonly byte[] _data = new byte[MigrationFormat.PageSize * MigrationFormat.MaxPagesPerBatch];
    private long _bytes;

    public MigrationWriter(Stream connection)
    {
        _connection = connection;
        _out = new BufferedStream(connection, 1 << 20);
    }

    /// <summary>Bytes written so far.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes);

    public void WriteHeader(ulong memorySize)
    {
        Span<byte> header = stackalloc byte[MigrationFormat.HeaderBytes];
        MigrationFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], MigrationFormat.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], MigrationFormat.PageSize);
        BinaryPrimitives.WriteUInt64LittleEndian(header[24..], memorySize);
        Write(header);
    }

    public void WriteRound(uint round, ulong dirtyPages)
    {
        Span<byte> payload = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, round);
        BinaryPrimitives.WriteUInt64LittleEndian(payload[4..], dirtyPages);
        WriteRecord(MigrationRecord.Round, payload);
    }

    /// <summary>
    /// Sends <paramref name="pages"/> (guest-physical, page-aligned) in batches, each copied from guest memory as it
    /// is now; all-zero pages go as a flag. With <paramref name="skipZero"/> they are not sent at all (the first pass:
    /// the destination's fresh RAM is zero). Returns the pages sent.
    /// </summary>
    public long WritePages(GuestMemory memory, IEnumerable<GuestAddress> pages, bool skipZero)
    {
        long sent = 0;
        int count = 0, withData = 0;
        foreach (var page in pages)
        {
            var target = _data.AsSpan(withData * MigrationFormat.PageSize, MigrationFormat.PageSize);
            memory.Read(page, target);
            bool zero = !target.ContainsAnyExcept((byte)0);
            if (zero && skipZero) continue;
            BinaryPrimitives.WriteUInt64LittleEndian(_entries.AsSpan(4 + 8 * count), page.Value | (zero ? MigrationFormat.ZeroPage : 0));
            count++;
            if (!zero) withData++;
            if (count == MigrationFormat.MaxPagesPerBatch)
            {
                FlushBatch(count, withData);
                sent += count;
                count = withData = 0;
            }
        }
        if (count > 0) FlushBatch(count, withData);
        return sent + count;
    }

    private void FlushBatch(int count, int withData)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_entries, (uint)count);
        int entryBytes = 4 + 8 * count, dataBytes = withData * MigrationFormat.PageSize;
        WriteRecordHeader(MigrationRecord.Pages, entryBytes + dataBytes);
        Write(_entries.AsSpan(0, entryBytes));
        Write(_data.AsSpan(0, dataBytes));
    }

    public void WriteState(ReadOnlySpan<byte> envelope) => WriteRecord(MigrationRecord.State, envelope);

    /// <summary>The end record (the hash of everything before it), then flushes.</summary>
    public void WriteEnd()
    {
        Span<byte> digest = stackalloc byte[32];
        _hash.GetCurrentHash(digest);
        WriteRecord(MigrationRecord.End, digest);
        Flush();
    }

    public void Flush()
    {
        _out.Flush();
        _connection.Flush();
    }

    /// <summary>Reads the destination's next reply; throws a <see cref="MigrationException"/> if it is a refusal or not <paramref name="expected"/>.</summary>
    public void ExpectReply(MigrationReply expected, string waitingFor)
    {
        var (reply, reason) = ReadReply(_connection, waitingFor);
        if (reply == MigrationReply.Refused) throw new MigrationException($"the destination refused the migration: {reason}");
        if (reply != expected) throw new MigrationException($"the destination answered {reply} while the source waited for {waitingFor}");
    }

    internal static (MigrationReply Reply, string Reason) ReadReply(Stream connection, string waitingFor)
    {
        Span<byte> head = stackalloc byte[3];
        try
        {
            connection.ReadExactly(head);
            var reply = (MigrationReply)head[0];
            int length = BinaryPrimitives.ReadUInt16LittleEndian(head[1..]);
            if (!Enum.IsDefined(reply) || length > MigrationFormat.MaxReasonBytes)
                throw new MigrationException($"the destination's reply is not one this source reads (code {head[0]}, {length} bytes)");
            var reason = new byte[length];
            connection.ReadExactly(reason);
            return (reply, System.Text.Encoding.UTF8.GetString(reason));
        }
        catch (EndOfStreamException e)
        {
            throw new MigrationException($"the destination closed the connection while the source waited for {waitingFor}", e);
        }
        catch (IOException e)
        {
            throw new MigrationException($"no answer from the destination while the source waited for {waitingFor}: {e.InnerException?.Message ?? e.Message}", e);
        }
    }

    internal static void WriteReply(Stream connection, MigrationReply reply, string reason = "")
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(reason);
        if (text.Length > MigrationFormat.MaxReasonBytes) text = text[..MigrationFormat.MaxReasonBytes];
        var frame = new byte[3 + text.Length];
        frame[0] = (byte)reply;
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(1), (ushort)text.Length);
        text.CopyTo(frame, 3);
        connection.Write(frame);
        connection.Flush();
    }

    private void WriteRecord(MigrationRecord type, ReadOnlySpan<byte> payload)
    {
        WriteRecordHeader(type, payload.Length);
        Write(payload);
    }

    private void WriteRecordHeader(MigrationRecord type, int length)
    {
        Span<byte> head = stackalloc byte[MigrationFormat.RecordHeaderBytes];
        head[0] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(head[1..], (uint)length);
        Write(head);
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        _out.Write(bytes);
        Interlocked.Add(ref _bytes, bytes.Length);
    }

    public void Dispose() => _hash.Dispose();
}
