using System.Buffers.Binary;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Migration;
using KvmSharp.Machine.State;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Tests.Machine.Migration;

/// <summary>The destination's reader against streams built here: a good one is taken, every damaged one refused in one line.</summary>
public sealed class MigrationStreamTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-migrate-stream").FullName;
    private readonly CapturingConsole _console = new();
    private readonly byte[] _good;
    private readonly ulong _memorySize;
    private readonly uint _passes;
    private readonly byte[] _state;

    public MigrationStreamTests()
    {
        using var machine = DirtyingGuest.Boot("emulate", _dir, _console);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (machine.Current!.Memory.Read<uint>(DirtyingGuest.Passes) < 1 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        machine.Pause();
        var running = machine.Current;
        _memorySize = running.Memory.Size;
        _passes = running.Memory.Read<uint>(DirtyingGuest.Passes);
        var stream = new MemoryStream();
        using (var writer = new MigrationWriter(stream))
        {
            writer.WriteHeader(running.Memory.Size);
            writer.WriteRound(0, 0);
            writer.WritePages(running.Memory, Pages(0, 16 << 20), skipZero: true);
            writer.WriteRound(1, 4);
            writer.WritePages(running.Memory, Pages(32 << 20, 4 * 4096), skipZero: false);   // four all-zero pages, sent as flags
            _state = MachineStateJson.Serialize(running.SaveState());
            writer.WriteState(_state);
            writer.WriteEnd();
        }
        _good = stream.ToArray();
    }

    private static IEnumerable<GuestAddress> Pages(ulong start, ulong length)
    {
        for (ulong a = start; a < start + length; a += 4096) yield return new GuestAddress(a);
    }

    [Fact]
    public void AGoodStreamGivesTheStateAndTheMemory()
    {
        var (incoming, replies) = Receive(_good);
        using var memory = incoming.Memory;
        Assert.Equal(_memorySize, memory.Size);
        Assert.Equal(_memorySize, incoming.State.MemorySize);
        Assert.Equal("emulate", incoming.State.Accelerator);
        Assert.Equal(_passes, DirtyingGuest.CheckArea(memory));
        Assert.Equal([(byte)MigrationReply.Accepted, 0, 0], replies);
    }

    [Fact]
    public void TruncatedAndBitFlippedStreamsAreRefused()
    {
        var random = new Random(20240610);
        for (int i = 0; i < 60; i++)
        {
            byte[] bad = (byte[])_good.Clone();
            if (i % 3 == 0) bad = bad[..random.Next(bad.Length)];
            else bad[random.Next(bad.Length)] ^= (byte)(1 << random.Next(8));
            AssertRefused(bad, null);
        }
    }

    [Fact]
    public void EveryByteOfTheHeaderAndTheFirstRecordsMatters()
    {
        // The header, the first round record and the first page record's count and entries.
        for (int at = 0; at < MigrationFormat.HeaderBytes + 17 + 5 + 4 + 64; at++)
        {
            byte[] bad = (byte[])_good.Clone();
            bad[at] ^= 0x40;
            AssertRefused(bad, null);
        }
    }

    [Fact]
    public void WrongVersionsSizesAndRecordsAreRefusedByName()
    {
        AssertRefused(Patch(16, 2), "version 2");
        AssertRefused(Patch(20, 8192), "page size");
        AssertRefused(Patch64(24, 12345), "12345 bytes");
        AssertRefused(Patch64(24, 1UL << 50), "not a size");
        // A well-formed stream whose header and state disagree on the RAM's size.
        var mismatched = new MemoryStream();
        using (var writer = new MigrationWriter(mismatched))
        {
            writer.WriteHeader(_memorySize * 2);
            writer.WriteState(_state);
            writer.WriteEnd();
        }
        AssertRefused(mismatched.ToArray(), "memory_size");

        int firstRecord = MigrationFormat.HeaderBytes;
        AssertRefused(Patch(firstRecord + 5, 7), "round 7");                             // rounds in order
        int pages = firstRecord + 5 + 12;
        AssertRefused(PatchByte(pages, 9), "record type 9");
        AssertRefused(Patch(pages + 5, 0), "holds 0 pages");
        AssertRefused(Patch(pages + 5, 100000), "holds 100000 pages");
        AssertRefused(Patch64(pages + 9, 0x123), "not a page");                          // unaligned
        AssertRefused(Patch64(pages + 9, 0xF000_0000), "not a page");                     // in the PCI hole
        AssertRefused(Patch64(pages + 9, 1UL << 45), "not a page");                       // past RAM
        AssertRefused(Patch(pages + 1, 12), "too few for its entries");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(_good.AsSpan(pages + 1));
        AssertRefused(Patch(pages + 1, length + 4096), "needs");                          // one page of data more than the entries say
        AssertRefused(_good[..^37], "ended early");                                       // no end record
    }

    [Fact]
    public void AStreamWithoutItsStateOrWithRecordsAfterItIsRefused()
    {
        int end = _good.Length - 37;
        byte[] noState = [.. _good[..StateRecordStart()], .. _good[end..]];
        AssertRefused(noState, "SHA-256");
        var headerOnly = new MemoryStream();
        using (var writer = new MigrationWriter(headerOnly))
        {
            writer.WriteHeader(_memorySize);
            writer.WriteEnd();
        }
        AssertRefused(headerOnly.ToArray(), "without the machine state");
        byte[] roundAfterState = [.. _good[..end], (byte)MigrationRecord.Round, 12, 0, 0, 0, .. new byte[12], .. _good[end..]];
        AssertRefused(roundAfterState, "follows the machine state");
    }

    private int StateRecordStart()
    {
        int at = MigrationFormat.HeaderBytes;
        while (_good[at] != (byte)MigrationRecord.State) at += 5 + (int)BinaryPrimitives.ReadUInt32LittleEndian(_good.AsSpan(at + 1));
        return at;
    }

    private byte[] Patch(int at, uint value)
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(at), value);
        return bad;
    }

    private byte[] Patch64(int at, ulong value)
    {
        byte[] bad = (byte[])_good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(at), value);
        return bad;
    }

    private byte[] PatchByte(int at, byte value)
    {
        byte[] bad = (byte[])_good.Clone();
        bad[at] = value;
        return bad;
    }

    private static void AssertRefused(byte[] stream, string? expected)
    {
        var connection = new ScriptedConnection(stream);
        var e = Assert.ThrowsAny<Exception>(() => MigrationReceiver.Receive(connection).Memory.Dispose());
        Assert.True(e is MigrationException or StateException, $"{e.GetType().Name}: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        if (expected is not null) Assert.Contains(expected, e.Message);
        // The source hears the refusal with the reason (after the Accepted that answered a good header).
        byte[] replies = connection.Written;
        int at = replies.Length > 0 && replies[0] == (byte)MigrationReply.Accepted ? 3 : 0;
        Assert.Equal((byte)MigrationReply.Refused, replies[at]);
        Assert.Equal(e.Message, System.Text.Encoding.UTF8.GetString(replies.AsSpan(at + 3, BinaryPrimitives.ReadUInt16LittleEndian(replies.AsSpan(at + 1)))));
    }

    private static (MigrationReceiver.Incoming Incoming, byte[] Replies) Receive(byte[] stream)
    {
        var connection = new ScriptedConnection(stream);
        return (MigrationReceiver.Receive(connection), connection.Written);
    }

    public void Dispose()
    {
        _console.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
