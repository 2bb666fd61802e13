namespace KvmSharp.Machine.Migration;

/// <summary>
/// The migration stream, source to destination, all numbers little-endian:
/// <code>
/// header   magic "KVMSHARP-MIGRATE" (16 bytes), u32 version, u32 page size (4096), u64 guest RAM bytes
/// records  u8 type, u32 payload length, payload:
///   Pages  u32 count (1..MaxPagesPerBatch); count × u64 guest-physical page address, bit 0 set for an all-zero
///          page; then 4096 bytes for each page without bit 0, in order (the length must add up exactly)
///   Round  u32 round number, u64 pages dirty when the round began (the destination only checks the order)
///   State  the MachineState's checked envelope (MachineStateJson.Serialize), once, after every page
///   End    32 bytes: SHA-256 of every byte before this record (header included)
/// </code>
/// The destination answers with replies (u8 code, u16 length, UTF-8 reason): Accepted after a header it can read,
/// Running once the machine runs there, Refused (with the reason) at the first thing it cannot take.
/// </summary>
public static class MigrationFormat
{
    public static ReadOnlySpan<byte> Magic => "KVMSHARP-MIGRATE"u8;

    /// <summary>Bump when a destination of this version cannot read the stream of the next one.</summary>
    public const uint Version = 1;

    public const int HeaderBytes = 16 + 4 + 4 + 8;

    public const int PageSize = 4096;

    /// <summary>Pages in one batch: about 1 MiB of data per record.</summary>
    public const int MaxPagesPerBatch = 256;

    /// <summary>The largest machine state accepted (a state is a few hundred KiB).</summary>
    public const int MaxStateBytes = 64 << 20;

    /// <summary>Bit 0 of a page entry: the page is all zero and no data follows for it.</summary>
    public const ulong ZeroPage = 1;

    public const int RecordHeaderBytes = 1 + 4;

    public const int MaxReasonBytes = 1024;
}

/// <summary>A record's type byte.</summary>
public enum MigrationRecord : byte
{
    Pages = 1,
    Round = 2,
    State = 3,
    End = 4,
}

/// <summary>A reply's code byte, destination to source.</summary>
public enum MigrationReply : byte
{
    Accepted = 1,
    Running = 2,
    Refused = 3,
}
