using System.Buffers.Binary;
using System.Security.Cryptography;
using KvmSharp.Machine.State;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Machine.Migration;

/// <summary>
/// The destination's side of the stream (<see cref="MigrationFormat"/>): reads the header, fills fresh guest RAM
/// from the page records, and returns the machine state once the end record's hash matches. The stream is hostile
/// input: every type, length, page address and the order of records is checked, and the first problem ends the
/// receive with one line (a <see cref="MigrationException"/> or a <see cref="StateException"/>), the memory freed
/// and the refusal sent to the source.
/// </summary>
public static class MigrationReceiver
{
    /// <summary>What arrived: the machine's state and its RAM (the caller owns the memory).</summary>
    public sealed record Incoming(MachineState State, GuestMemory Memory);

    public static Incoming Receive(Stream connection)
    {
        GuestMemory? memory = null;
        try
        {
            var incoming = ReceiveCore(connection, m => memory = m);
            return incoming;
        }
        catch (Exception e)
        {
            memory?.Dispose();
            var failure = e switch
            {
                MigrationException or StateException => e,
                EndOfStreamException => new MigrationException("the migration stream ended early: the source is gone or the stream is truncated", e),
                IOException io => new MigrationException($"the migration connection failed: {io.InnerException?.Message ?? io.Message}", e),
                _ => e,
            };
            try { MigrationWriter.WriteReply(connection, MigrationReply.Refused, failure.Message); }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException) { /* the source is gone; nothing to tell */ }
            if (ReferenceEquals(failure, e)) throw;
            throw failure;
        }
    }

    private static Incoming ReceiveCore(Stream connection, Action<GuestMemory> created)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // Reads go through a buffer of their own; replies go straight to the connection. Not disposed: that would
        // close the connection, which the caller still answers on.
        var input = new BufferedStream(connection, 1 << 20);
        var reader = new HashingReader(input, hash);
        ulong memorySize = ReadHeader(reader);
        MigrationWriter.WriteReply(connection, MigrationReply.Accepted);
        var memory = GuestMemory.Create(memorySize);
        created(memory);

        byte[] entries = new byte[8 * MigrationFormat.MaxPagesPerBatch];
        byte[]? state = null;
        uint nextRound = 0;
        Span<byte> head = stackalloc byte[MigrationFormat.RecordHeaderBytes];
        Span<byte> expected = stackalloc byte[32], digest = stackalloc byte[32], round = stackalloc byte[12];
        while (true)
        {
            // A record header joins the hash once it is known not to be the end record's.
            reader.ReadExactlyUnhashed(head);
            var type = (MigrationRecord)head[0];
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(head[1..]);
            if (type == MigrationRecord.End)
            {
                // The hash covers every byte before this record's own header.
                hash.GetCurrentHash(expected);
                if (length != 32) throw new MigrationException($"the end record has {length} bytes; it has 32");
                reader.ReadExactlyUnhashed(digest);
                if (!digest.SequenceEqual(expected)) throw new MigrationException("the migration stream is corrupt: its SHA-256 does not match");
                if (state is null) throw new MigrationException("the migration stream ended without the machine state");
                var machineState = MachineStateJson.Deserialize(state, "the migrated machine state");
                if (machineState.MemorySize != memorySize)
                    throw new StateException($"memory_size: the state has {machineState.MemorySize} bytes, the stream's header {memorySize}");
                return new Incoming(machineState, memory);
            }
            hash.AppendData(head);
            if (state is not null) throw new MigrationException($"a {Name(type)} record follows the machine state; only the end record may");
            switch (type)
            {
                case MigrationRecord.Round:
                    if (length != 12) throw new MigrationException($"a round record has {length} bytes; it has 12");
                    reader.ReadExactly(round);
                    uint number = BinaryPrimitives.ReadUInt32LittleEndian(round);
                    if (number != nextRound) throw new MigrationException($"round {number} arrived where round {nextRound} was due");
                    nextRound++;
                    break;
                case MigrationRecord.Pages:
                    ReadPages(reader, memory, length, entries);
                    break;
                case MigrationRecord.State:
                    if (length is 0 or > MigrationFormat.MaxStateBytes)
                        throw new MigrationException($"the machine state has {length} bytes; it must be 1 to {MigrationFormat.MaxStateBytes}");
                    state = new byte[length];
                    reader.ReadExactly(state);
                    break;
                default:
                    throw new MigrationException($"record type {head[0]} is not one this destination reads");
            }
        }
    }

    private static ulong ReadHeader(HashingReader reader)
    {
        Span<byte> header = stackalloc byte[MigrationFormat.HeaderBytes];
        reader.ReadExactly(header);
        if (!header[..16].SequenceEqual(MigrationFormat.Magic)) throw new MigrationException("the peer does not speak the KvmSharp migration stream (bad magic)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        if (version != MigrationFormat.Version)
            throw new MigrationException($"the source sends migration stream version {version}; this destination reads version {MigrationFormat.Version}");
        uint pageSize = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
        if (pageSize != MigrationFormat.PageSize) throw new MigrationException($"the stream's page size is {pageSize}; this destination takes {MigrationFormat.PageSize}");
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        if (size < MemoryMap.MinimumRam || size > Config.MachineConfig.MaxMemorySize || size % MemoryMap.PageSize != 0)
            throw new MigrationException($"the stream's guest RAM of {size} bytes is not a size a machine can have");
        return size;
    }

    private static void ReadPages(HashingReader reader, GuestMemory memory, uint length, byte[] entries)
    {
        if (length < 4) throw new MigrationException($"a page record has {length} bytes, too few for its count");
        Span<byte> countBytes = stackalloc byte[4];
        reader.ReadExactly(countBytes);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(countBytes);
        if (count is 0 or > MigrationFormat.MaxPagesPerBatch)
            throw new MigrationException($"a page record holds {count} pages; it must hold 1 to {MigrationFormat.MaxPagesPerBatch}");
        var entrySpan = entries.AsSpan(0, (int)count * 8);
        if (length < 4 + (ulong)entrySpan.Length) throw new MigrationException($"a page record of {count} pages has {length} bytes, too few for its entries");
        reader.ReadExactly(entrySpan);
        ulong withData = 0;
        for (int i = 0; i < count; i++)
        {
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(entrySpan[(i * 8)..]);
            ulong address = entry & ~MigrationFormat.ZeroPage;
            if (address % MigrationFormat.PageSize != 0 || !memory.IsValidRange(new GuestAddress(address), MigrationFormat.PageSize))
                throw new MigrationException($"page entry {i} names 0x{entry:X}, which is not a page of the guest's RAM");
            if ((entry & MigrationFormat.ZeroPage) == 0) withData++;
        }
        ulong expected = 4 + (ulong)entrySpan.Length + withData * MigrationFormat.PageSize;
        if (length != expected) throw new MigrationException($"a page record of {count} pages ({withData} with data) has {length} bytes; it needs {expected}");
        for (int i = 0; i < count; i++)
        {
            ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(entrySpan[(i * 8)..]);
            var page = memory.GetSpan(new GuestAddress(entry & ~MigrationFormat.ZeroPage), MigrationFormat.PageSize);
            if ((entry & MigrationFormat.ZeroPage) != 0) page.Clear();
            else reader.ReadExactly(page);
        }
    }

    private static string Name(MigrationRecord type) => Enum.IsDefined(type) ? type.ToString().ToLowerInvariant() : $"type {(byte)type}";

    /// <summary>Reads exactly, adding every byte to the stream's hash.</summary>
    private sealed class HashingReader(Stream stream, IncrementalHash hash)
    {
        public void ReadExactly(Span<byte> buffer)
        {
            stream.ReadExactly(buffer);
            hash.AppendData(buffer);
        }

        public void ReadExactlyUnhashed(Span<byte> buffer) => stream.ReadExactly(buffer);
    }
}
