using System.Numerics;
using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE4.2 (SDM vol 1 §12.12; vol 2 §4.1 "Imm8 control byte operation for PCMPESTRI / …"): the packed string
// compares glibc's strchr/strspn/strcspn/strstr use, and CRC32 (CRC-32C). PCMPGTQ is with the other
// compares in Executor.Sse4.cs.
public sealed partial class Executor
{
    private bool TryExecuteSse42(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Pcmpestri: case Mnemonic.Pcmpestri64: case Mnemonic.Pcmpestrm: case Mnemonic.Pcmpestrm64:
            case Mnemonic.Pcmpistri: case Mnemonic.Pcmpistrm:
                StringCompare(in i); return true;
            case Mnemonic.Crc32: Crc32(in i); return true;
            default: return false;
        }
    }

    /// <summary>CRC32: accumulates the CRC-32C of the source into the destination's low 32 bits, bit-reflected, no inversion (SDM "CRC32").</summary>
    private void Crc32(in Instruction i)
    {
        int size = OperandSize(in i, 1);
        uint crc = (uint)RegisterFile.Read(_gpr, i.Op0Register);
        ulong data = ReadOperand(in i, 1, size);
        crc = size switch
        {
            1 => BitOperations.Crc32C(crc, (byte)data),
            2 => BitOperations.Crc32C(crc, (ushort)data),
            4 => BitOperations.Crc32C(crc, (uint)data),
            _ => BitOperations.Crc32C(crc, data),
        };
        RegisterFile.Write(_gpr, i.Op0Register, crc);
    }

    /// <summary>
    /// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM. imm8[1:0] element format (unsigned/signed bytes/words),
    /// imm8[3:2] aggregation (equal any, ranges, equal each, equal ordered), imm8[5:4] polarity, imm8[6] the
    /// index (least/most significant) or mask (bits/elements) output. Explicit lengths are |rAX| and |rDX|
    /// saturated to the element count; implicit lengths end at the first zero element. Flags: CF = result
    /// non-zero, ZF/SF = the second/first operand is shorter than a vector, OF = result bit 0, AF = PF = 0.
    /// </summary>
    private void StringCompare(in Instruction i)
    {
        RequireSse();
        var first = ReadXmm(i.Op0Register);
        var second = Source(in i, 1);
        byte control = i.Immediate8;
        bool words = (control & 1) != 0, signed = (control & 2) != 0;
        int count = words ? 8 : 16;
        bool explicitLength = i.Mnemonic is Mnemonic.Pcmpestri or Mnemonic.Pcmpestri64 or Mnemonic.Pcmpestrm or Mnemonic.Pcmpestrm64;
        bool wide = i.Mnemonic is Mnemonic.Pcmpestri64 or Mnemonic.Pcmpestrm64;
        Span<int> a = stackalloc int[16], b = stackalloc int[16];
        Elements(first, words, signed, a);
        Elements(second, words, signed, b);
        int firstLength = explicitLength ? ExplicitLength(_gpr[CpuState.Rax], wide, count) : ImplicitLength(a, count);
        int secondLength = explicitLength ? ExplicitLength(_gpr[CpuState.Rdx], wide, count) : ImplicitLength(b, count);

        int result = 0;
        int aggregation = (control >> 2) & 3;
        for (int n = 0; n < count; n++)
        {
            bool bit = false;
            switch (aggregation)
            {
                case 0:   // equal any: b[n] is one of the valid elements of a
                    for (int k = 0; k < firstLength && n < secondLength; k++) bit |= a[k] == b[n];
                    break;
                case 1:   // ranges: a holds pairs (low, high)
                    for (int k = 0; k + 1 < firstLength && n < secondLength; k += 2) bit |= a[k] <= b[n] && b[n] <= a[k + 1];
                    break;
                case 2:   // equal each: both invalid compares true, one invalid false
                    bit = n >= firstLength && n >= secondLength || (n < firstLength && n < secondLength && a[n] == b[n]);
                    break;
                default:  // equal ordered: a occurs in b starting at n (an invalid a element matches anything)
                    bit = true;
                    for (int k = 0; k < count - n && k < firstLength; k++)
                        if (n + k >= secondLength || a[k] != b[n + k]) { bit = false; break; }
                    break;
            }
            if (bit) result |= 1 << n;
        }
        int all = (1 << count) - 1;
        result = ((control >> 4) & 3) switch
        {
            1 => ~result & all,
            3 => result ^ ((1 << secondLength) - 1),
            _ => result,
        };

        bool index = i.Mnemonic is Mnemonic.Pcmpestri or Mnemonic.Pcmpestri64 or Mnemonic.Pcmpistri;
        if (index)
        {
            int position = result == 0 ? count : (control & 0x40) != 0 ? 31 - BitOperations.LeadingZeroCount((uint)result) : BitOperations.TrailingZeroCount(result);
            _gpr[CpuState.Rcx] = (uint)position;
        }
        else
        {
            var mask = Vector128.Create((ulong)result, 0UL);
            if ((control & 0x40) != 0)
            {
                var expanded = Vector128<byte>.Zero;
                int size = words ? 2 : 1;
                for (int n = 0; n < count; n++)
                    if ((result >> n & 1) != 0)
                        for (int s = 0; s < size; s++) expanded = expanded.WithElement(n * size + s, (byte)0xFF);
                mask = expanded.AsUInt64();
            }
            WriteXmm(Register.XMM0, mask);
        }
        ulong flags = (result != 0 ? LazyFlags.CF : 0) | (secondLength < count ? LazyFlags.ZF : 0)
            | (firstLength < count ? LazyFlags.SF : 0) | ((result & 1) != 0 ? LazyFlags.OF : 0);
        _cpu.Flags.Store(flags);
    }

    private static void Elements(Vector128<ulong> v, bool words, bool signed, Span<int> into)
    {
        if (words)
            for (int k = 0; k < 8; k++) into[k] = signed ? v.AsInt16().GetElement(k) : v.AsUInt16().GetElement(k);
        else
            for (int k = 0; k < 16; k++) into[k] = signed ? v.AsSByte().GetElement(k) : v.AsByte().GetElement(k);
    }

    private static int ImplicitLength(ReadOnlySpan<int> elements, int count)
    {
        for (int k = 0; k < count; k++) if (elements[k] == 0) return k;
        return count;
    }

    /// <summary>The absolute value of EAX/EDX (RAX/RDX with REX.W), saturated to the element count (SDM vol 2 §4.1.2).</summary>
    private static int ExplicitLength(ulong register, bool wide, int count)
    {
        long value = wide ? (long)register : (int)register;
        ulong magnitude = value < 0 ? (ulong)-(value + 1) + 1 : (ulong)value;
        return magnitude >= (ulong)count ? count : (int)magnitude;
    }
}
