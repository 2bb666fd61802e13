using System.Buffers.Binary;
using KvmSharp.Tests.Devices.Virtio;

namespace KvmSharp.Fuzz.Virtio;

/// <summary>
/// How a fuzz input becomes what a guest driver would leave in RAM for one queue:
/// byte 0 picks the queue (among the target's), byte 1 the number of chains (1-4), byte 2 bit 0 EVENT_IDX,
/// byte 3 is spare; then the 16-entry descriptor table as raw bytes (virtio 1.2 §2.7.5), then four 16-bit heads
/// for the driver ring, then up to 64 KiB of buffer bytes placed at the queue's <see cref="MockVirtqDriver.BufferBase"/>.
/// Descriptors hold guest addresses as they are, so a seed points them into the buffer area and the fuzzer mutates.
/// </summary>
public readonly ref struct ChainInput
{
    public const int TableEntries = 16;
    public const int TableBytes = TableEntries * 16;
    public const int HeadsOffset = 4 + TableBytes;
    public const int DataOffset = HeadsOffset + 8;
    public const int MaxData = 64 << 10;

    private readonly ReadOnlySpan<byte> _input;

    public ChainInput(ReadOnlySpan<byte> input) => _input = input;

    public bool IsComplete => _input.Length >= DataOffset;
    public int QueuePick => _input[0];
    public int Chains => (_input[1] & 3) + 1;
    public bool EventIdx => (_input[2] & 1) != 0;
    public ReadOnlySpan<byte> Table => _input.Slice(4, TableBytes);
    public ushort Head(int i) => BinaryPrimitives.ReadUInt16LittleEndian(_input[(HeadsOffset + 2 * i)..]);
    public ReadOnlySpan<byte> Data => _input[DataOffset..][..Math.Min(MaxData, _input.Length - DataOffset)];
}

/// <summary>Builds seeds in <see cref="ChainInput"/>'s layout: chains of buffers in the data area, as a driver would post them.</summary>
public sealed class ChainSeed(int queuePick, ulong queueBase)
{
    private readonly byte[] _table = new byte[ChainInput.TableBytes];
    private readonly List<ushort> _heads = [];
    private readonly MemoryStream _data = new();
    private int _nextDescriptor;

    /// <summary>Adds a chain: each buffer's bytes (its length for a writable buffer, whose bytes are only room).</summary>
    public ChainSeed Chain(params (byte[] Bytes, bool Writable)[] buffers)
    {
        ushort head = (ushort)_nextDescriptor;
        for (int i = 0; i < buffers.Length; i++)
        {
            var (bytes, writable) = buffers[i];
            ulong address = queueBase + MockVirtqDriver.BufferBase + (ulong)_data.Length;
            _data.Write(bytes);
            while (_data.Length % 16 != 0) _data.WriteByte(0);
            var entry = _table.AsSpan(16 * _nextDescriptor, 16);
            bool last = i == buffers.Length - 1;
            BinaryPrimitives.WriteUInt64LittleEndian(entry, address);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], (uint)bytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[12..], (ushort)((last ? 0 : 1) | (writable ? 2 : 0)));
            BinaryPrimitives.WriteUInt16LittleEndian(entry[14..], (ushort)(last ? 0 : _nextDescriptor + 1));
            _nextDescriptor++;
        }
        _heads.Add(head);
        return this;
    }

    public byte[] Build()
    {
        var bytes = new byte[ChainInput.DataOffset + _data.Length];
        bytes[0] = (byte)queuePick;
        bytes[1] = (byte)(Math.Max(1, _heads.Count) - 1);
        _table.CopyTo(bytes.AsSpan(4));
        for (int i = 0; i < _heads.Count && i < 4; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(ChainInput.HeadsOffset + 2 * i), _heads[i]);
        _data.ToArray().CopyTo(bytes.AsSpan(ChainInput.DataOffset));
        return bytes;
    }
}
