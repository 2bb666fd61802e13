using Iced.Intel;
using KvmSharp.Tests.Reference;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// SSE floating point against the host processor (<see cref="HostSse"/>), where Unicorn cannot serve: the
/// MXCSR exception flags after every operation, FTZ and DAZ, under every rounding mode (all exceptions
/// masked). Register forms "op xmm0, xmm1[, imm8]" (RAX/EAX for a general-register operand) with edge
/// values (NaNs, ±0, ±∞, denormals, extremes); COMISS/UCOMISS/COMISD/UCOMISD also compare ZF, PF, CF.
/// RCPPS/RSQRTPS are left out: their bits are the implementation's (SDM "RCPPS").
/// </summary>
public class SseHostDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(150);
    private const ulong In = DiffLayout.Data + 0x100, Out = DiffLayout.Data + 0x200;

    public static readonly string[] Mnemonics =
    [
        "Addps", "Addpd", "Addss", "Addsd", "Subps", "Subpd", "Subss", "Subsd", "Mulps", "Mulpd", "Mulss", "Mulsd",
        "Divps", "Divpd", "Divss", "Divsd", "Sqrtps", "Sqrtpd", "Sqrtss", "Sqrtsd", "Minps", "Minpd", "Minss", "Minsd",
        "Maxps", "Maxpd", "Maxss", "Maxsd", "Cmpps", "Cmppd", "Cmpss", "Cmpsd", "Cvtss2sd", "Cvtsd2ss", "Cvtps2pd",
        "Cvtpd2ps", "Cvtdq2ps", "Cvtps2dq", "Cvttps2dq", "Cvtpd2dq", "Cvttpd2dq", "Cvtdq2pd",
        "Addsubps", "Addsubpd", "Haddps", "Haddpd", "Hsubps", "Hsubpd", "Roundps", "Roundpd", "Roundss", "Roundsd", "Dpps", "Dppd",
        "Cvtsi2ss", "Cvtsi2sd", "Cvtss2si", "Cvtsd2si", "Cvttss2si", "Cvttsd2si", "Comiss", "Ucomiss", "Comisd", "Ucomisd",
    ];

    public static IEnumerable<object[]> MnemonicData => Mnemonics.Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(MnemonicData))]
    public void MatchesHost(string mnemonic)
    {
        Assert.True(HostSse.Available, "the host reference needs an x86-64-v2 (SSE4.1) host CPU");
        var forms = SseDifferentialTests.FormsOf(mnemonic).Where(f => !f.Split('_').Skip(1).Any(t => t is "m32" or "m64" or "m128")).ToArray();
        var r = new DiffRandom($"sse-host-{mnemonic}");
        var failures = new List<string>();
        bool compares = mnemonic.Contains("comis", StringComparison.OrdinalIgnoreCase);
        using var harness = new DifferentialHarness();
        for (int n = 0; n < Count; n++)
        {
            string form = r.Pick(forms);
            var code = Forms.Get(form);
            var kind = SseDifferentialTests.FloatKindOf(form);
            UInt128 a = SseDifferentialTests.XmmValue(r, kind), b = SseDifferentialTests.XmmValue(r, kind);
            if (r.Chance(15)) b = a;
            ulong rax = r.Value(8);
            uint mxcsr = 0x1F80 | (uint)r.Rng.Next(4) << 13 | (r.Chance(25) ? 0x40u : 0) | (r.Chance(25) ? 0x8000u : 0);
            int imm = mnemonic.StartsWith("Cmp", StringComparison.Ordinal) ? r.Rng.Next(8) : r.Rng.Next(256);
            // Operands: XMM0 first, XMM1 second, RAX/EAX for a general register; then the immediate.
            var operands = new List<object>();
            foreach (var t in form.Split('_').Skip(1))
                operands.Add(t switch
                {
                    "imm8" => imm,
                    "r32" or "rm32" => Register.EAX,
                    "r64" or "rm64" => Register.RAX,
                    _ => operands.Any(o => o is Register x && x.IsXMM()) ? Register.XMM1 : Register.XMM0,
                });
            var ops = operands.ToArray();
            var host = HostSse.Run(asm => Forms.Emit(asm, code, ops), a, b, mxcsr, rax);

            var c = new DiffCase(mnemonic, asm =>
            {
                asm.ldmxcsr(__dword_ptr[(long)In]);
                Forms.Emit(asm, code, ops);
                asm.stmxcsr(__dword_ptr[(long)Out]);
            });
            c.Gprs[0] = rax;
            c.Gprs[4] = DiffLayout.StackTop;
            c.Xmm[0] = a;
            c.Xmm[1] = b;
            c.WithMemory(In, mxcsr, 4);
            var (outcome, state) = harness.RunOurs(c);
            uint ours = BitConverter.ToUInt32(state.Memory.Single(m => m.Address == DiffLayout.Data).Bytes, (int)(Out - DiffLayout.Data));
            const ulong flags = ReferenceState.ZF | ReferenceState.PF | ReferenceState.CF;
            bool flagsDiffer = compares && ((state.Rflags ^ host.Rflags) & flags) != 0;
            if (outcome != DiffOutcome.Halted || state.Xmm[0] != host.Xmm0 || ours != host.Mxcsr || state.Gprs[0] != host.Rax || flagsDiffer)
                failures.Add($"{form} imm {imm} MXCSR {mxcsr:X4} xmm0={a:X32} xmm1={b:X32} rax={rax:X}: host {host.Xmm0:X32} rax={host.Rax:X} " +
                    $"flags {host.Rflags & flags:X} MXCSR {host.Mxcsr:X4}, ours {outcome} {state.Xmm[0]:X32} rax={state.Gprs[0]:X} flags {state.Rflags & flags:X} MXCSR {ours:X4}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {Count} differ from the host:\n" + string.Join("\n", failures.Take(10)));
    }
}
