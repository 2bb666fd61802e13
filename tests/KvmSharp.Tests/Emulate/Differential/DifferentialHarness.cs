using System.Text;
using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Tests.Reference;
using static KvmSharp.Tests.Emulate.Differential.DiffLayout;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// Runs each <see cref="DiffCase"/> on the reference CPU (Unicorn) and on our software CPU from the same
/// state and compares how the run ended (HLT, or the fault vector at the faulting instruction), the GPRs,
/// RIP, the RFLAGS bits the case defines, and the data and stack regions. One instance per test: it owns a
/// guest memory, our CPU and a Unicorn engine (replaced after every CPU exception, see Reference/README.md).
/// </summary>
public sealed class DifferentialHarness : IDisposable
{
    private const ulong Bit1 = 2, Df = ReferenceState.DF;
    private static readonly byte[] DataPattern = Pattern(DataSize, 1), StackPattern = Pattern(StackSize, 2);

    private readonly DiffMode _mode;
    private EmulatedSide _ours;
    private ReferenceCpu? _reference;
    private int _nextSlot;

    public DifferentialHarness(DiffMode mode = DiffMode.Long64)
    {
        _mode = mode;
        _ours = new EmulatedSide(mode);
    }

    public int Bitness => _mode == DiffMode.Long64 ? 64 : 32;

    /// <summary>Cases checked so far whose run ended in a fault on both CPUs.</summary>
    public int Faults { get; private set; }

    /// <summary>Runs every case; fails with the first differences (and how many cases differed in all). Returns how many faulted.</summary>
    public static int Verify(DiffMode mode, IEnumerable<DiffCase> cases)
    {
        using var harness = new DifferentialHarness(mode);
        var failures = new List<string>();
        int total = 0, failed = 0;
        foreach (var c in cases)
        {
            total++;
            string? difference = harness.Check(c);
            if (difference is null) continue;
            failed++;
            if (failures.Count < 8) failures.Add(difference);
        }
        Assert.True(total > 0, "no cases were generated");
        if (failed > 0)
            Assert.Fail($"{failed} of {total} cases differ from the reference CPU (seed {DiffRandom.Seed}):\n\n" + string.Join("\n", failures));
        return harness.Faults;
    }

    /// <summary>Runs one case on both CPUs; null when they agree, else a description of the case and the differences.</summary>
    public string? Check(DiffCase c)
    {
        // Below long mode our CPU delivers a fault on the case's own stack (no IST): ESP must point at RAM.
        if (_mode == DiffMode.Protected32 && (c.Gprs[CpuState.Rsp] & 0xFFFF_FFFF) - Stack >= StackSize) c.Gprs[CpuState.Rsp] = StackTop;
        var (expectedOutcome, expected, actualOutcome, actual) = RunBoth(c, out ulong start, out byte[] code);
        string? difference = null;
        if (expectedOutcome == actualOutcome && actualOutcome.Kind == "fault") Faults++;
        if (expectedOutcome != actualOutcome)
            difference = $"outcome: reference {expectedOutcome}, actual {actualOutcome}\n";
        // A fault leaves the faulting instruction without effect, so every flag is as it was before it.
        ulong mask = (actualOutcome.Kind == "fault" && expectedOutcome == actualOutcome ? ReferenceState.ArithmeticFlags : c.FlagsMask) | Df;
        string diff = expected.Diff(actual, mask);
        if (diff.Length > 0) difference += diff;
        return difference is null ? null : Describe(c, start, code, difference);
    }

    /// <summary>Runs a case on our CPU only (for instructions Unicorn's model lacks); returns the outcome and state.</summary>
    public (DiffOutcome Outcome, ReferenceState State) RunOurs(DiffCase c)
    {
        var (start, code) = Place(c);
        _ours.WriteMemory(start, code);
        ResetMemory(c, (a, b) => _ours.WriteMemory(a, b));
        var (outcome, state, _) = _ours.Run(c, start, InitialFlags(c));
        CaptureMemory(state, _ours.ReadMemory);
        return (outcome, state);
    }

    private (DiffOutcome, ReferenceState, DiffOutcome, ReferenceState) RunBoth(DiffCase c, out ulong start, out byte[] code)
    {
        (start, code) = Place(c);
        ulong rflags = InitialFlags(c);
        if (c.SdmFault is { } vector)
        {
            // Unicorn cannot run this one: the expected state is the initial one, stopped at a fault on the first instruction.
            var sdm = new ReferenceState { Rip = start, Rflags = rflags };
            for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++)
                sdm.Gprs[i] = _mode == DiffMode.Long64 ? c.Gprs[i] : c.Gprs[i] & 0xFFFF_FFFF;
            for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++) sdm.Xmm[i] = c.Xmm[i];
            _ours.WriteMemory(start, code);
            ResetMemory(c, (a, b) => _ours.WriteMemory(a, b));
            CaptureMemory(sdm, _ours.ReadMemory);
            var (oursOutcome, ours, oursFrame) = _ours.Run(c, start, rflags);
            CaptureMemory(ours, _ours.ReadMemory);
            if (oursFrame.Length > 0) CopyFrameBytes(ours, sdm, oursFrame);
            return (DiffOutcome.Fault(vector), sdm, oursOutcome, ours);
        }

        var reference = Reference();
        reference.WriteMemory(start, code);
        ResetMemory(c, (a, b) => reference.WriteMemory(a, b));
        var initial = new ReferenceState { Rip = start, Rflags = rflags };
        for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++)
            initial.Gprs[i] = _mode == DiffMode.Long64 ? c.Gprs[i] : c.Gprs[i] & 0xFFFF_FFFF;
        for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++) initial.Xmm[i] = c.Xmm[i];
        reference.Load(initial);
        reference.Cr4 = c.Osfxsr ? reference.Cr4 | EmulatedSide.Cr4Osfxsr : reference.Cr4 & ~EmulatedSide.Cr4Osfxsr;
        reference.Mxcsr = EmulatedSide.MxcsrReset;
        var run = reference.Run(start, _mode == DiffMode.Long64 ? 0xFFFF_FFFF_FFFF_F000 : 0xFFFF_F000, 100_000);
        var expected = reference.Capture();
        CaptureMemory(expected, (a, span) => reference.ReadMemory(a, span));
        DiffOutcome expectedOutcome = run.Outcome switch
        {
            ReferenceOutcome.Halted => DiffOutcome.Halted,
            ReferenceOutcome.CpuException => DiffOutcome.Fault(run.Vector ?? -1),
            ReferenceOutcome.InvalidInstruction => DiffOutcome.Fault(6),
            _ => new DiffOutcome(run.Outcome.ToString()),
        };
        if (run.Outcome == ReferenceOutcome.CpuException) DropReference();
        if (expectedOutcome == DiffOutcome.Halted) c.ReferenceFix?.Invoke(expected);

        _ours.WriteMemory(start, code);
        ResetMemory(c, (a, b) => _ours.WriteMemory(a, b));
        var (actualOutcome, actual, frame) = _ours.Run(c, start, rflags);
        if (actualOutcome.Kind is not ("halted" or "fault"))
        {
            // A run stopped for something else (MMIO, shutdown, runaway) leaves our CPU mid-instruction: start afresh.
            _ours.Dispose();
            _ours = new EmulatedSide(_mode);
            _nextSlot = 0;
            DropReference();
        }
        CaptureMemory(actual, _ours.ReadMemory);
        if (frame.Length > 0) CopyFrameBytes(expected, actual, frame);
        return (expectedOutcome, expected, actualOutcome, actual);
    }

    /// <summary>
    /// Unicorn stops before it delivers a fault, our CPU delivers it: the stack bytes a Protected32 frame
    /// overwrote are the delivery's, not the case's, so they are taken from the reference.
    /// </summary>
    private static void CopyFrameBytes(ReferenceState expected, ReferenceState actual, (ulong Address, int Length) frame)
    {
        var theirs = expected.Memory.Single(m => m.Address == Stack).Bytes;
        var ours = actual.Memory.Single(m => m.Address == Stack).Bytes;
        int offset = (int)(frame.Address - Stack);
        if (offset >= 0 && offset + frame.Length <= ours.Length)
            theirs.AsSpan(offset, frame.Length).CopyTo(ours.AsSpan(offset));
    }

    private (ulong Start, byte[] Code) Place(DiffCase c)
    {
        if (_nextSlot == SlotCount)
        {
            // Every slot used once: start both CPUs afresh so no translation of an old case survives.
            _ours.Dispose();
            _ours = new EmulatedSide(_mode);
            DropReference();
            _nextSlot = 0;
        }
        ulong start = CodeBase + (ulong)_nextSlot++ * SlotSize;
        var assembler = new Assembler(Bitness);
        c.Emit(assembler);
        assembler.hlt();
        using var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), start);
        if (stream.Length > SlotSize) throw new InvalidOperationException($"{c.Name}: code is {stream.Length} bytes, a slot holds {SlotSize}");
        return (start, stream.ToArray());
    }

    private ulong InitialFlags(DiffCase c) => (c.Rflags & (ReferenceState.ArithmeticFlags | Df)) | Bit1;

    private static void ResetMemory(DiffCase c, Action<ulong, byte[]> write)
    {
        write(Data, DataPattern);
        write(Stack, StackPattern);
        foreach (var (address, bytes) in c.Memory) write(address, bytes);
    }

    private delegate void ReadInto(ulong address, Span<byte> into);

    private static void CaptureMemory(ReferenceState state, ReadInto read)
    {
        var data = new byte[DataSize];
        read(Data, data);
        var stack = new byte[StackSize];
        read(Stack, stack);
        state.Memory.Add(new MemoryContents(Data, data));
        state.Memory.Add(new MemoryContents(Stack, stack));
    }

    private ReferenceCpu Reference()
    {
        if (_reference is not null) return _reference;
        var cpu = new ReferenceCpu(_mode == DiffMode.Long64 ? ReferenceMode.Long64 : ReferenceMode.Protected32);
        cpu.MapMemory(0, DiffLayout.MemorySize);
        return _reference = cpu;
    }

    private void DropReference()
    {
        _reference?.Dispose();
        _reference = null;
    }

    private string Describe(DiffCase c, ulong start, byte[] code, string difference)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"[{c.Name}]");
        var decoder = Iced.Intel.Decoder.Create(Bitness, new ByteArrayCodeReader(code), start);
        var formatter = new IntelFormatter();
        var output = new StringOutput();
        while (decoder.IP < start + (ulong)code.Length)
        {
            decoder.Decode(out var instruction);
            formatter.Format(instruction, output);
            sb.AppendLine($"  {instruction.IP:X}: {output.ToStringAndReset()}");
        }
        sb.Append("  initial:");
        for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++) sb.Append($" {(Gpr)i}={c.Gprs[i]:X}");
        sb.AppendLine($" RFLAGS={InitialFlags(c):X} [{ReferenceState.DescribeFlags(InitialFlags(c))}]");
        for (int i = 0; i < (_mode == DiffMode.Long64 ? 16 : 8); i++) if (c.Xmm[i] != 0) sb.Append($" XMM{i}={c.Xmm[i]:X32}");
        sb.AppendLine();
        foreach (var (address, bytes) in c.Memory) sb.AppendLine($"  memory {address:X}: {Convert.ToHexString(bytes)}");
        sb.Append(difference);
        return sb.ToString();
    }

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public void Dispose()
    {
        _ours.Dispose();
        DropReference();
    }
}
