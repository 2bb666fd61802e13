using System.Numerics;
using Iced.Intel;
using KvmSharp.Tests.Reference;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>BT BTS BTR BTC (register and memory, immediate and register bit offsets), BSF BSR TZCNT LZCNT, POPCNT.</summary>
public class BitDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    [Theory]
    [InlineData("Bt"), InlineData("Bts"), InlineData("Btr"), InlineData("Btc")]
    public void BitTest(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, BitTestCases(mnemonic, 64, Count));

    [Theory]
    [InlineData("Bsf"), InlineData("Bsr"), InlineData("Tzcnt"), InlineData("Lzcnt")]
    public void BitScan(string mnemonic) => DifferentialHarness.Verify(DiffMode.Long64, BitScanCases(mnemonic, 64, Count));

    /// <summary>
    /// POPCNT is not in Unicorn's CPU model (README): our result is checked against the SDM instead —
    /// the count of set bits, ZF = (source = 0), OF SF AF CF PF cleared.
    /// </summary>
    [Fact]
    public void PopcntFollowsTheSdm()
    {
        using var harness = new DifferentialHarness();
        foreach (var c in BitScanCases("Popcnt", 64, Count))
        {
            var (outcome, state) = harness.RunOurs(c);
            Assert.Equal(DiffOutcome.Halted, outcome);
            var (destination, source, size) = PopcntOperands[c];
            ulong value = source, bitCount = (ulong)BitOperations.PopCount(value);
            // A 16-bit destination keeps bits 63:16; a 32-bit one is zero-extended (SDM vol 1 §3.4.1.1).
            ulong expected = size == 2 ? (c.Gprs[destination] & ~0xFFFFUL) | bitCount : bitCount;
            Assert.Equal(expected, state.Gprs[destination]);
            Assert.Equal(value == 0 ? ZF : 0, state.Rflags & ArithmeticFlags);
        }
    }

    private static readonly Dictionary<DiffCase, (int Destination, ulong Source, int Size)> PopcntOperands = [];

    public static IEnumerable<DiffCase> BitTestCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"bt-{mnemonic}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness, bytes: false)), bits = size * 8;
            bool immediate = r.Chance(40), memory = r.Chance(50);
            // SDM "BT": CF = the bit, ZF unchanged, OF SF AF PF undefined.
            var c = new DiffCase($"{mnemonic} {(memory ? "m" : "r")}{bits}, {(immediate ? "imm8" : $"r{bits}")}", _ => { }) { Rflags = r.Flags(), FlagsMask = CF | ZF };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            object offset;
            int offsetRegister = -1;
            if (immediate) offset = r.Rng.Next(256);
            else
            {
                offsetRegister = r.GprIndex(bitness);
                // A register offset into memory addresses a bit string around the operand (±2 KiB here).
                c.Gprs[offsetRegister] = memory ? (ulong)r.Rng.Next(-16000, 16000) : r.Register(size);
                if (memory && size < 8) c.Gprs[offsetRegister] = (c.Gprs[offsetRegister] & ((1UL << bits) - 1)) | (r.Next64() << bits);
                if (memory && size == 2 && r.Chance(50)) c.Gprs[offsetRegister] = (c.Gprs[offsetRegister] & ~0xFFFFUL) | (uint)r.Rng.Next(0x10000);
                offset = DiffRandom.Gpr(offsetRegister, size);
            }
            object target;
            if (memory)
            {
                var m = Forms.Memory(r, c, bitness, size, offsetRegister);
                c.WithMemory(m.Address, r.Value(size), size);
                target = m.Memory;
            }
            else
            {
                int t = r.GprIndex(bitness, offsetRegister);
                c.Gprs[t] = r.Register(size);
                target = DiffRandom.Gpr(t, size);
            }
            var code = Forms.Get($"{mnemonic}_rm{bits}_{(immediate ? "imm8" : $"r{bits}")}");
            yield return AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, target, offset));
        }
    }

    public static IEnumerable<DiffCase> BitScanCases(string mnemonic, int bitness, int count)
    {
        var r = new DiffRandom($"bitscan-{mnemonic}-{bitness}");
        for (int n = 0; n < count; n++)
        {
            int size = r.Pick(Forms.Sizes(bitness, bytes: false)), bits = size * 8;
            // BSF/BSR: ZF defined, the rest undefined. TZCNT/LZCNT: CF and ZF defined.
            ulong mask = mnemonic is "Bsf" or "Bsr" ? ZF : CF | ZF;
            var c = new DiffCase($"{mnemonic} r{bits}, r/m{bits}", _ => { }) { Rflags = r.Flags(), FlagsMask = mask };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            int destination = r.GprIndex(bitness);
            ulong value = r.Chance(15) ? 0 : r.Chance(50) ? r.Value(size) : 1UL << r.Rng.Next(bits);
            object source;
            if (r.Chance(30))
            {
                var m = Forms.Memory(r, c, bitness, size, destination);
                c.WithMemory(m.Address, value, size);
                source = m.Memory;
            }
            else
            {
                int s = r.GprIndex(bitness, destination);
                ulong maskBits = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
                c.Gprs[s] = (c.Gprs[s] & ~maskBits) | value;
                source = DiffRandom.Gpr(s, size);
            }
            var code = Forms.Get($"{mnemonic}_r{bits}_rm{bits}");
            var built = AluDifferentialTests.Rebuild(c, a => Forms.Emit(a, code, DiffRandom.Gpr(destination, size), source));
            if (mnemonic == "Popcnt") PopcntOperands[built] = (destination, value, size);
            yield return built;
        }
    }
}
