using Iced.Intel;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// Operand values for differential cases: edge values (0, ±1, the sign boundaries of every width, all
/// ones) mixed with random ones, from a seeded <see cref="Random"/> so a failure is reproducible.
/// KVMSHARP_DIFF_SEED picks another seed; KVMSHARP_DIFF_CASES raises the number of cases for long runs.
/// </summary>
public sealed class DiffRandom(string group)
{
    /// <summary>The seed every group derives its own from; fixed unless KVMSHARP_DIFF_SEED says otherwise.</summary>
    public static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_DIFF_SEED"), out int s) ? s : 20240611;

    /// <summary>Cases per group: <paramref name="ciDefault"/> unless KVMSHARP_DIFF_CASES asks for more.</summary>
    public static int Cases(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_DIFF_CASES"), out int n) && n > 0 ? Math.Max(n, ciDefault) : ciDefault;

    private static readonly ulong[] Edges =
    [
        0, 1, 2, 3, 0x7F, 0x80, 0x81, 0xFF, 0x100, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1_0000,
        0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0x1_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, ulong.MaxValue, ulong.MaxValue - 1,
    ];

    /// <summary>Shift and rotate counts worth trying, before masking by the CPU.</summary>
    public static readonly int[] ShiftCounts = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 255];

    // Not HashCode.Combine: it is randomized per process, so the printed seed would not reproduce a failure.
    public Random Rng { get; } = new(unchecked(Seed * 486187739 + StableHash(group)));

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char ch in s) h = h * 31 + ch;
        return h;
    }

    public ulong Next64() => (ulong)Rng.NextInt64() ^ ((ulong)Rng.Next(2) << 63);

    public bool Chance(int percent) => Rng.Next(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Rng.Next(items.Count)];

    /// <summary>A value of <paramref name="size"/> bytes: an edge value (of this or any width), one next to it, or random.</summary>
    public ulong Value(int size)
    {
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        ulong signBit = 1UL << (size * 8 - 1);
        ulong v = Rng.Next(10) switch
        {
            0 or 1 => Edges[Rng.Next(Edges.Length)],
            2 => Rng.Next(4) switch { 0 => signBit, 1 => signBit - 1, 2 => mask, _ => mask - 1 },
            3 => Edges[Rng.Next(Edges.Length)] + (ulong)(Rng.Next(5) - 2),
            4 => (ulong)Rng.Next(64),
            5 => 0 - (ulong)Rng.Next(1, 64),
            _ => Next64(),
        };
        return v & mask;
    }

    /// <summary>A register value whose low <paramref name="size"/> bytes are <see cref="Value"/> and whose upper bits are random (merges must keep them).</summary>
    public ulong Register(int size)
    {
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        ulong low = Value(size);
        ulong high = Chance(20) ? (low & (1UL << (size * 8 - 1))) != 0 ? ~mask : 0 : Next64() & ~mask;
        return high | low;
    }

    /// <summary>Initial RFLAGS: random arithmetic flags, DF clear.</summary>
    public ulong Flags() => Next64() & 0x8D5;

    public int ShiftCount() => Chance(60) ? ShiftCounts[Rng.Next(ShiftCounts.Length)] : Rng.Next(256);

    // ---- registers --------------------------------------------------------------------------------

    private static readonly Register[] R8 = [Iced.Intel.Register.AL, Iced.Intel.Register.CL, Iced.Intel.Register.DL, Iced.Intel.Register.BL,
        Iced.Intel.Register.SPL, Iced.Intel.Register.BPL, Iced.Intel.Register.SIL, Iced.Intel.Register.DIL, Iced.Intel.Register.R8L,
        Iced.Intel.Register.R9L, Iced.Intel.Register.R10L, Iced.Intel.Register.R11L, Iced.Intel.Register.R12L, Iced.Intel.Register.R13L,
        Iced.Intel.Register.R14L, Iced.Intel.Register.R15L];
    private static readonly Register[] HighBytes = [Iced.Intel.Register.AH, Iced.Intel.Register.CH, Iced.Intel.Register.DH, Iced.Intel.Register.BH];

    /// <summary>The Iced register of GPR <paramref name="index"/> at <paramref name="size"/> bytes.</summary>
    public static Register Gpr(int index, int size) => size switch
    {
        1 => R8[index],
        2 => Iced.Intel.Register.AX + index,
        4 => Iced.Intel.Register.EAX + index,
        _ => Iced.Intel.Register.RAX + index,
    };

    /// <summary>GPR numbers a case may use freely: not RSP (the stack), and only 0–7 below long mode.</summary>
    public int GprIndex(int bitness, params int[] except)
    {
        while (true)
        {
            int n = Rng.Next(bitness == 64 ? 16 : 8);
            if (n != 4 && Array.IndexOf(except, n) < 0) return n;
        }
    }

    /// <summary>
    /// Two distinct-or-equal byte registers that can be encoded together: either from the legacy set
    /// (AL–BL, AH–BH, no REX) or the REX set (AL–BL, SIL, DIL, BPL, R8L–R15L).
    /// </summary>
    public (Register A, Register B) BytePair(int bitness, int except = -1)
    {
        if (bitness != 64 || Chance(40))
        {
            Register Legacy()
            {
                while (true)
                {
                    int n = Rng.Next(8);
                    var r = n < 4 ? R8[n] : HighBytes[n - 4];
                    if (ByteIndex(r) != except) return r;
                }
            }
            return (Legacy(), Legacy());
        }
        return (R8[GprIndex(bitness, except)], R8[GprIndex(bitness, except)]);
    }

    /// <summary>GPR number holding a byte register (AH → 0).</summary>
    public static int ByteIndex(Register r) => Array.IndexOf(HighBytes, r) is var h and >= 0 ? h : Array.IndexOf(R8, r);
}
