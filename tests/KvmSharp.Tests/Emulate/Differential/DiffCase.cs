using Iced.Intel;
using KvmSharp.Tests.Reference;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>Which CPU mode a case runs in: Unicorn's Long64 (paging off, EFER.LMA set) or flat Protected32.</summary>
public enum DiffMode { Long64, Protected32 }

/// <summary>
/// One differential case: code (emitted at a fresh address, followed by HLT), the register state it starts
/// from, memory it needs, and the RFLAGS bits the SDM defines after it (the rest are not compared).
/// </summary>
public sealed class DiffCase
{
    public DiffCase(string name, Action<Assembler> emit)
    {
        Name = name;
        Emit = emit;
    }

    /// <summary>Short description for failure messages, e.g. "add r32, r/m32".</summary>
    public string Name { get; }

    public Action<Assembler> Emit { get; }

    /// <summary>Initial GPRs (x86 encoding order); only the first 8 exist in Protected32.</summary>
    public ulong[] Gprs { get; } = new ulong[16];

    /// <summary>Initial XMM registers (only the first 8 exist in Protected32).</summary>
    public UInt128[] Xmm { get; } = new UInt128[16];

    /// <summary>CR4.OSFXSR on both CPUs (SSE instructions raise #UD while it is clear, SDM vol 3 §2.5).</summary>
    public bool Osfxsr { get; set; } = true;

    /// <summary>Initial RFLAGS: arithmetic flags and DF (bit 1 is added by the harness).</summary>
    public ulong Rflags { get; set; }

    /// <summary>The arithmetic flags the SDM defines after this code; DF is always compared.</summary>
    public ulong FlagsMask { get; set; } = ReferenceState.ArithmeticFlags;

    /// <summary>Bytes placed in the data region before the run (over the harness' fixed pattern).</summary>
    public List<(ulong Address, byte[] Bytes)> Memory { get; } = [];

    /// <summary>
    /// Corrects Unicorn's result where Unicorn is known to deviate from the SDM (each use is listed in
    /// Reference/README.md), so the comparison holds our CPU to the architectural result.
    /// </summary>
    public Action<ReferenceState>? ReferenceFix { get; set; }

    /// <summary>
    /// Set when Unicorn cannot run the case at all (it would crash the test process, see
    /// Reference/README.md): the SDM's outcome is this fault, with every register and flag unchanged.
    /// </summary>
    public int? SdmFault { get; set; }

    public ulong this[Gpr register]
    {
        get => Gprs[(int)register];
        set => Gprs[(int)register] = value;
    }

    public DiffCase WithMemory(ulong address, ulong value, int size)
    {
        var bytes = BitConverter.GetBytes(value).AsSpan(0, size).ToArray();
        Memory.Add((address, bytes));
        return this;
    }
}
