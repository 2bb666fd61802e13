using Iced.Intel;
using static KvmSharp.Tests.Emulate.Differential.DiffLayout;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>An r/m operand of a generated instruction: a register, or memory with its effective address.</summary>
public readonly record struct Rm(Register Register, MemoryOperand Memory, ulong Address)
{
    public bool IsMemory => Register == Register.None;
    public override string ToString() => IsMemory ? "m" : "r";
}

/// <summary>Builds instructions by Iced <see cref="Code"/> name and picks their operands for a case.</summary>
public static class Forms
{
    private static readonly Dictionary<string, Code?> Codes = [];

    /// <summary>The Iced code named e.g. "Add_rm32_imm8", or null when there is no such form.</summary>
    public static Code? Find(string name)
    {
        lock (Codes)
        {
            if (!Codes.TryGetValue(name, out var code))
                Codes[name] = code = Enum.TryParse<Code>(name, out var c) ? c : null;
            return code;
        }
    }

    public static Code Get(string name) => Find(name) ?? throw new ArgumentException($"no Iced code {name}");

    /// <summary>Adds an instruction built from a code and operands (Register, MemoryOperand, int/long immediates).</summary>
    public static void Emit(Assembler a, Code code, params object[] operands)
    {
        var i = operands switch
        {
            [] => Instruction.Create(code),
            [Register r] => Instruction.Create(code, r),
            [MemoryOperand m] => Instruction.Create(code, m),
            [int imm] => Instruction.Create(code, imm),
            [Register r, Register s] => Instruction.Create(code, r, s),
            [Register r, MemoryOperand m] => Instruction.Create(code, r, m),
            [MemoryOperand m, Register r] => Instruction.Create(code, m, r),
            [Register r, int imm] => Instruction.Create(code, r, imm),
            [Register r, long imm] => Instruction.Create(code, r, imm),
            [MemoryOperand m, int imm] => Instruction.Create(code, m, imm),
            [Register r, Register s, int imm] => Instruction.Create(code, r, s, imm),
            [Register r, MemoryOperand m, int imm] => Instruction.Create(code, r, m, imm),
            [MemoryOperand m, Register r, int imm] => Instruction.Create(code, m, r, imm),
            [Register r, Register s, Register t] => Instruction.Create(code, r, s, t),
            [MemoryOperand m, Register r, Register t] => Instruction.Create(code, m, r, t),
            _ => throw new ArgumentException($"operands of {code}: {string.Join(", ", operands)}"),
        };
        a.AddInstruction(i);
    }

    /// <summary>
    /// A memory operand into the data region: a random base register (and sometimes a scaled index, and
    /// in 64-bit mode sometimes a 32-bit address size with garbage in the upper register half) whose
    /// effective address lies inside the data region with room for <paramref name="size"/> bytes.
    /// </summary>
    public static Rm Memory(DiffRandom r, DiffCase c, int bitness, int size, params int[] exclude) =>
        Memory(r, c, bitness, size, legacy: false, exclude);

    /// <summary>As above; <paramref name="legacy"/> keeps to RAX–RDI (no REX), for use with AH–BH.</summary>
    public static Rm Memory(DiffRandom r, DiffCase c, int bitness, int size, bool legacy, int[] exclude)
    {
        int registers = legacy ? 32 : bitness;
        int baseIndex = r.GprIndex(registers, exclude);
        ulong address = DataMiddle + (ulong)(r.Rng.Next(-1024, 1024 - size));
        if (r.Chance(50)) address &= ~(ulong)(Math.Min(size, 16) - 1);   // aligned half the time
        int displacement = r.Chance(30) ? 0 : r.Chance(50) ? r.Rng.Next(-128, 128) : r.Rng.Next(-4096, 4096);
        bool address32 = bitness == 64 && r.Chance(20);
        ulong baseValue = address - (ulong)(long)displacement;
        int indexIndex = -1, scale = 1;
        if (r.Chance(30))
        {
            indexIndex = r.GprIndex(registers, [.. exclude, baseIndex]);
            scale = r.Pick([1, 2, 4, 8]);
            long indexValue = r.Rng.Next(-64, 64);
            c.Gprs[indexIndex] = (ulong)indexValue;
            if (address32) c.Gprs[indexIndex] &= 0xFFFF_FFFF;
            baseValue -= (ulong)(indexValue * scale);
        }
        c.Gprs[baseIndex] = address32 ? (baseValue & 0xFFFF_FFFF) | (r.Next64() << 32) : baseValue;
        int width = address32 || bitness == 32 ? 4 : 8;
        var memory = new MemoryOperand(DiffRandom.Gpr(baseIndex, width),
            indexIndex >= 0 ? DiffRandom.Gpr(indexIndex, width) : Register.None, scale, displacement, displacement is >= -128 and < 128 ? 1 : width);
        return new Rm(Register.None, memory, address);
    }

    /// <summary>An r/m operand of <paramref name="size"/> bytes: a register (value set) or memory (value written).</summary>
    public static Rm RegisterOrMemory(DiffRandom r, DiffCase c, int bitness, int size, bool memory, params int[] exclude)
    {
        if (memory)
        {
            var m = Memory(r, c, bitness, size, exclude);
            c.WithMemory(m.Address, r.Value(size), size);
            return m;
        }
        int n = r.GprIndex(bitness, exclude);
        c.Gprs[n] = r.Register(size);
        return new Rm(DiffRandom.Gpr(n, size), default, 0);
    }

    public static object Operand(Rm rm) => rm.IsMemory ? rm.Memory : rm.Register;

    /// <summary>Operand sizes valid in the mode: 8 bytes only in 64-bit mode.</summary>
    public static int[] Sizes(int bitness, bool bytes = true) =>
        bitness == 64 ? bytes ? [1, 2, 4, 8] : [2, 4, 8] : bytes ? [1, 2, 4] : [2, 4];

    /// <summary>An immediate of the width a form encodes, as Iced takes it (sign-extended int).</summary>
    public static int Immediate(DiffRandom r, int width) => width switch
    {
        1 => (sbyte)r.Value(1),
        2 => (short)r.Value(2),
        _ => (int)r.Value(4),
    };
}

/// <summary>Byte-register helpers: AH–BH live in bits 8–15 of RAX–RBX and exclude REX encodings.</summary>
public static class ByteRegisters
{
    /// <summary>Sets the byte a register names, leaving random bits elsewhere in its GPR.</summary>
    public static void Set(DiffRandom r, DiffCase c, Register register, ulong value)
    {
        int n = DiffRandom.ByteIndex(register);
        bool high = register is Register.AH or Register.CH or Register.DH or Register.BH;
        int shift = high ? 8 : 0;
        c.Gprs[n] = (c.Gprs[n] & ~(0xFFUL << shift)) | ((value & 0xFF) << shift);
    }
}
