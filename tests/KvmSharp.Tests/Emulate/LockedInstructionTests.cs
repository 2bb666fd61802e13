using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Emulate.BareCpu;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// LOCK-prefixed instructions are atomic across vCPUs (SDM vol 3 §9.1.2.2): two software CPUs on two host
/// threads share RAM and run, at the same time, (1) a LOCK ADD counter loop, which loses updates if a
/// locked read-modify-write is not atomic, and (2) a spinlock taken with LOCK CMPXCHG and released with a
/// plain MOV around a plain (non-atomic) increment, which loses increments if the lock ever admits both,
/// and deadlocks if a failed CMPXCHG's write-back overwrites the other CPU's plain release; and (3) the
/// same counter kept with LOCK CMPXCHG8B and with XCHG (locked without a prefix).
/// </summary>
public class LockedInstructionTests
{
    private const ulong Code = 0x10000, Counter = 0x20000, Lock = 0x20040, Guarded = 0x20080, Wide = 0x200C0, Token = 0x20100;
    private const int Rounds = 100_000;

    [Fact]
    public void LockedReadModifyWritesAreAtomicAcrossVcpus()
    {
        using var memory = GuestMemory.Create(4 << 20);
        var physical = new PhysicalMemory(memory);
        BareCpu.Write(memory, Code, Program());

        var cores = new[] { BareCpu.Create(physical, out _, Code, vcpuCount: 2), BareCpu.Create(physical, out _, Code, vcpuCount: 2) };
        var stops = new CoreStop[2];
        var threads = cores.Select((core, n) => new Thread(() => stops[n] = core.Run()) { IsBackground = true }).ToArray();
        foreach (var thread in threads) thread.Start();
        bool finished = threads.All(t => t.Join(TimeSpan.FromSeconds(60)));
        if (!finished) foreach (var core in cores) core.Kick();
        foreach (var thread in threads) thread.Join();

        Assert.True(finished, "the vCPUs did not finish: a spinlock release was lost (deadlock)");
        Assert.All(stops, stop => Assert.Equal(CoreStop.Halt, stop));
        Assert.Equal(2u * Rounds, Read32(memory, Counter));
        Assert.Equal(2u * Rounds, Read32(memory, Guarded));
        Assert.Equal(2UL * Rounds, Read64(memory, Wide));
        Assert.Equal(0u, Read32(memory, Lock));
    }

    private static Assembler Program()
    {
        var a = new Assembler(32);
        // (1) LOCK ADD.
        var add = a.CreateLabel();
        a.mov(ecx, Rounds);
        a.Label(ref add);
        a.@lock.add(__dword_ptr[(uint)Counter], 1);
        a.dec(ecx);
        a.jnz(add);

        // (2) LOCK CMPXCHG spinlock with a plain release around a plain increment.
        var acquire = a.CreateLabel();
        a.mov(ecx, Rounds);
        a.Label(ref acquire);
        a.xor(eax, eax);
        a.mov(edx, 1);
        a.@lock.cmpxchg(__dword_ptr[(uint)Lock], edx);
        a.jnz(acquire);
        a.mov(eax, __dword_ptr[(uint)Guarded]);
        a.inc(eax);
        a.mov(__dword_ptr[(uint)Guarded], eax);
        a.mov(__dword_ptr[(uint)Lock], 0);
        a.dec(ecx);
        a.jnz(acquire);

        // (3) A 64-bit counter by LOCK CMPXCHG8B, each round under a token taken with XCHG.
        var retry = a.CreateLabel();
        var token = a.CreateLabel();
        a.mov(esi, Rounds);
        a.Label(ref token);
        a.mov(eax, 1);
        a.xchg(__dword_ptr[(uint)Token], eax);
        a.test(eax, eax);
        a.jnz(token);
        a.mov(__dword_ptr[(uint)Token], 0);
        a.mov(eax, __dword_ptr[(uint)Wide]);
        a.mov(edx, __dword_ptr[(uint)Wide + 4]);
        a.Label(ref retry);
        a.mov(ebx, eax);
        a.mov(ecx, edx);
        a.add(ebx, 1);
        a.adc(ecx, 0);
        a.@lock.cmpxchg8b(__qword_ptr[(uint)Wide]);
        a.jnz(retry);
        a.dec(esi);
        a.jnz(token);
        a.hlt();
        return a;
    }

    private static uint Read32(GuestMemory memory, ulong address) => (uint)Read64(memory, address);
}
