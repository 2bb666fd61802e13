using System.Text;

namespace KvmSharp.Tests.Reference;

/// <summary>The contents of one guest memory range at snapshot time.</summary>
public sealed record MemoryContents(ulong Address, byte[] Bytes);

/// <summary>
/// What the differential harness compares after running the same code on the reference CPU and on ours:
/// 16 GPRs (x86 encoding order), RIP, RFLAGS, 16 XMM registers and chosen memory ranges. Plain data, so
/// either CPU can fill it in.
/// </summary>
public sealed class ReferenceState
{
    public const ulong CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, DF = 1 << 10, OF = 1 << 11;

    /// <summary>CF PF AF ZF SF OF: the status flags arithmetic instructions define (Intel SDM vol 1 §3.4.3.1).</summary>
    public const ulong ArithmeticFlags = CF | PF | AF | ZF | SF | OF; // 0x8D5

    /// <summary>The status flags plus DF, which string instructions read.</summary>
    public const ulong ArithmeticFlagsAndDf = ArithmeticFlags | DF;

    private static readonly string[] GprNames = Enum.GetNames<Gpr>().Select(n => n.ToUpperInvariant()).ToArray();

    private static readonly (ulong Bit, string Name)[] FlagNames =
    [
        (CF, "CF"), (1 << 1, "bit1"), (PF, "PF"), (AF, "AF"), (ZF, "ZF"), (SF, "SF"), (1 << 8, "TF"), (1 << 9, "IF"),
        (DF, "DF"), (OF, "OF"), (1 << 14, "NT"), (1 << 16, "RF"), (1 << 17, "VM"), (1 << 18, "AC"), (1 << 21, "ID"),
    ];

    public ulong[] Gprs { get; } = new ulong[16];
    public UInt128[] Xmm { get; } = new UInt128[16];
    public ulong Rip { get; set; }
    public ulong Rflags { get; set; }
    public List<MemoryContents> Memory { get; } = [];

    public ulong this[Gpr reg]
    {
        get => Gprs[(int)reg];
        set => Gprs[(int)reg] = value;
    }

    /// <summary>
    /// Describes every difference, one per line; empty when the states agree. Only the RFLAGS bits in
    /// <paramref name="flagsMask"/> are compared, so a harness can leave out flags an instruction leaves
    /// undefined. Memory ranges are matched by address; a range only one side has is a difference.
    /// </summary>
    public string Diff(ReferenceState other, ulong flagsMask, string thisName = "reference", string otherName = "actual")
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 16; i++)
            if (Gprs[i] != other.Gprs[i])
                sb.AppendLine($"{GprNames[i]}: {thisName} 0x{Gprs[i]:X16}, {otherName} 0x{other.Gprs[i]:X16}");
        if (Rip != other.Rip)
            sb.AppendLine($"RIP: {thisName} 0x{Rip:X16}, {otherName} 0x{other.Rip:X16}");
        ulong flagDiff = (Rflags ^ other.Rflags) & flagsMask;
        if (flagDiff != 0)
            sb.AppendLine($"RFLAGS: {thisName} 0x{Rflags:X} [{DescribeFlags(Rflags)}], {otherName} 0x{other.Rflags:X} [{DescribeFlags(other.Rflags)}], differ in {DescribeFlags(flagDiff)}");
        for (int i = 0; i < 16; i++)
            if (Xmm[i] != other.Xmm[i])
                sb.AppendLine($"XMM{i}: {thisName} 0x{Xmm[i]:X32}, {otherName} 0x{other.Xmm[i]:X32}");
        DiffMemory(other, sb, thisName, otherName);
        return sb.ToString();
    }

    private void DiffMemory(ReferenceState other, StringBuilder sb, string thisName, string otherName)
    {
        var theirs = other.Memory.ToDictionary(m => m.Address);
        foreach (var mine in Memory)
        {
            if (!theirs.Remove(mine.Address, out var their))
            {
                sb.AppendLine($"memory 0x{mine.Address:X}: only {thisName} has this range");
                continue;
            }
            if (mine.Bytes.Length != their.Bytes.Length)
            {
                sb.AppendLine($"memory 0x{mine.Address:X}: {thisName} has {mine.Bytes.Length} bytes, {otherName} {their.Bytes.Length}");
                continue;
            }
            int first = mine.Bytes.AsSpan().CommonPrefixLength(their.Bytes);
            if (first == mine.Bytes.Length) continue;
            int last = mine.Bytes.Length - 1;
            while (mine.Bytes[last] == their.Bytes[last]) last--;
            // Show the differing window (at most 16 bytes from the first difference), enough to read a value.
            int shown = Math.Min(last - first + 1, 16);
            sb.AppendLine($"memory 0x{mine.Address + (ulong)first:X} (+{first}..+{last}): " +
                $"{thisName} {Convert.ToHexString(mine.Bytes, first, shown)}, {otherName} {Convert.ToHexString(their.Bytes, first, shown)}");
        }
        foreach (var address in theirs.Keys.Order())
            sb.AppendLine($"memory 0x{address:X}: only {otherName} has this range");
    }

    /// <summary>Names the set flags, e.g. "CF ZF IF".</summary>
    public static string DescribeFlags(ulong rflags)
    {
        var set = FlagNames.Where(f => (rflags & f.Bit) != 0).Select(f => f.Name);
        string text = string.Join(' ', set);
        return text.Length == 0 ? "none" : text;
    }
}
