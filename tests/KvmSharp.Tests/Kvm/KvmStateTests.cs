using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.Emulate.State;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Kvm.TinyGuest;

namespace KvmSharp.Tests.Kvm;

/// <summary>
/// Save, restore and dirty logging on KVM itself (skipped where /dev/kvm is missing). The guests use neither
/// interrupts nor SSE, which a software-backed KVM (kvm_pvm) cannot give an unmodified guest.
/// </summary>
public class KvmStateTests
{
    private const ulong MemorySize = 4 << 20;

    /// <summary>Counts rounds: stores the round, OUT 0xE9 with it, IN 0xE8 and adds what came in.</summary>
    private static byte[] CounterGuest() => Assemble32(a =>
    {
        var loop = a.CreateLabel();
        a.xor(ebx, ebx);
        a.Label(ref loop);
        a.inc(ebx);
        a.mov(__dword_ptr[0x2000], ebx);
        a.mov(eax, ebx);
        a.@out(0xE9, eax);
        a.@in(eax, 0xE8);
        a.add(__dword_ptr[0x2004], eax);
        a.jmp(loop);
    }, CodeAddress);

    private sealed class Machine : IDisposable
    {
        public GuestMemory Memory { get; }
        public IVirtualMachine Vm { get; }
        public IVcpu Vcpu { get; }
        private readonly IDisposable _attachment;

        public Machine(GuestMemory memory)
        {
            Memory = memory;
            Vm = new KvmAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(1));
            Vcpu = Vm.CreateVcpu(0);
            _attachment = Vcpu.AttachToCurrentThread();
        }

        public void Dispose()
        {
            _attachment.Dispose();
            Vcpu.Dispose();
            Vm.Dispose();
            Memory.Dispose();
        }
    }

    private static List<string> Run(IVcpu vcpu, int exits, ref uint next)
    {
        var log = new List<string>();
        for (int n = 0; n < exits; n++)
        {
            var exit = vcpu.Run();
            if (exit.Reason == VcpuExitReason.IoIn) BitConverter.TryWriteBytes(exit.Data, next++ * 3);
            else Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
            log.Add($"{exit.Reason} {exit.Address:x} {Convert.ToHexString(exit.Data)}");
        }
        return log;
    }

    [Fact]
    public void SavedVcpuAndVmLoadIntoAFreshVmAndTheGuestGoesOn()
    {
        KvmRequirement.Ensure();
        using var original = new Machine(GuestMemory.Create(MemorySize));
        original.Memory.Write(new GuestAddress(CodeAddress), CounterGuest());
        StartFlat32(original.Vcpu, CodeAddress);
        uint next = 1;
        Run(original.Vcpu, 41, ref next);                     // the last exit is an IN, answered: in flight until completed

        original.Vcpu.CompletePendingIo();
        original.Vcpu.OnPaused();
        original.Vm.PauseTime();
        var vmState = AcceleratorStateJson.RoundTrip(original.Vm.SaveState());
        var vcpuState = AcceleratorStateJson.RoundTrip(original.Vcpu.SaveState());
        byte[] ram = original.Memory.GetReadOnlySpan(new GuestAddress(0), (int)MemorySize).ToArray();
        original.Vm.ResumeTime();

        using var restored = new Machine(GuestMemory.Create(MemorySize));
        restored.Memory.Write(new GuestAddress(0), ram);
        restored.Vm.RestoreState(vmState);
        restored.Vcpu.RestoreState(vcpuState);

        uint nextRestored = next;
        var expected = Run(original.Vcpu, 50, ref next);
        Assert.Equal(expected, Run(restored.Vcpu, 50, ref nextRestored));
        original.Vcpu.GetRegisters(out var r1);
        restored.Vcpu.GetRegisters(out var r2);
        Assert.Equal((r1.Rip, r1.Rbx, r1.Rax), (r2.Rip, r2.Rbx, r2.Rax));
        Assert.Equal(original.Memory.Read<ulong>(new GuestAddress(0x2000)), restored.Memory.Read<ulong>(new GuestAddress(0x2000)));
    }

    [Fact]
    public void DirtyLogNamesThePagesTheGuestWrote()
    {
        KvmRequirement.Ensure();
        using var machine = new Machine(GuestMemory.Create(MemorySize));
        machine.Memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            a.mov(__dword_ptr[0x20000], 1);
            a.mov(__dword_ptr[0x21000], 2);
            a.@out(0xE9, al);
            a.mov(eax, __dword_ptr[0x23000]);
            a.mov(__dword_ptr[0x24000], 3);
            a.@out(0xE9, al);
            a.hlt();
        }, CodeAddress));
        StartFlat32(machine.Vcpu, CodeAddress);
        machine.Vm.StartDirtyLog();

        ulong[] Collect()
        {
            var bitmap = new DirtyPageBitmap(machine.Memory.Regions);
            machine.Vm.CollectDirtyPages(bitmap);
            return [.. bitmap.DirtyPages().Select(p => p.Value >> 12)];
        }

        void AssertPages(ulong[] written, ulong[] collected)
        {
            // A software-backed KVM may log more (its own writes); it must log at least what the guest wrote.
            if (KvmRequirement.IsSoftwareBacked) Assert.Subset(collected.ToHashSet(), written.ToHashSet());
            else Assert.Equal(written, collected);
        }

        Assert.Equal(VcpuExitReason.IoOut, machine.Vcpu.Run().Reason);
        AssertPages([0x20, 0x21], Collect());
        Assert.Equal(VcpuExitReason.IoOut, machine.Vcpu.Run().Reason);
        AssertPages([0x24], Collect());
        machine.Vm.StopDirtyLog();
    }

    [Fact]
    public void StatesOfTheSoftwareCpuAndDamagedStatesAreRefused()
    {
        KvmRequirement.Ensure();
        using var machine = new Machine(GuestMemory.Create(MemorySize));
        StartFlat32(machine.Vcpu, CodeAddress);
        Assert.Contains("software CPU", Assert.Throws<StateException>(() => machine.Vcpu.RestoreState(new EmulatedVcpuState())).Message);
        Assert.Throws<StateException>(() => machine.Vm.RestoreState(new EmulatedVmState()));

        var vcpuState = (KvmVcpuState)machine.Vcpu.SaveState();
        Assert.StartsWith("Lapic", Assert.Throws<StateException>(() => machine.Vcpu.RestoreState(vcpuState with { Lapic = new byte[1000] })).Message);
        Assert.StartsWith("MpState", Assert.Throws<StateException>(() => machine.Vcpu.RestoreState(vcpuState with { MpState = 7 })).Message);
        Assert.StartsWith("Events.ExceptionNumber", Assert.Throws<StateException>(() =>
            machine.Vcpu.RestoreState(vcpuState with { Events = vcpuState.Events with { ExceptionNumber = 40 } })).Message);
        var vmState = (KvmVmState)machine.Vm.SaveState();
        Assert.StartsWith("IoApic.BaseAddress", Assert.Throws<StateException>(() =>
            machine.Vm.RestoreState(vmState with { IoApic = vmState.IoApic with { BaseAddress = 0x1000 } })).Message);
        Assert.StartsWith("Pit.Channels[1].Mode", Assert.Throws<StateException>(() => machine.Vm.RestoreState(vmState with
        {
            Pit = vmState.Pit! with { Channels = [vmState.Pit.Channels[0], vmState.Pit.Channels[1] with { Mode = 9 }, vmState.Pit.Channels[2]] },
        })).Message);
        machine.Vcpu.RestoreState(vcpuState);
        machine.Vm.RestoreState(vmState);
    }

    [Fact]
    public void KvmclockStandsStillWhilePaused()
    {
        KvmRequirement.Ensure();
        using var machine = new Machine(GuestMemory.Create(MemorySize));
        machine.Vm.PauseTime();
        ulong paused = ((KvmVmState)machine.Vm.SaveState()).ClockNanoseconds;
        Thread.Sleep(2);
        Assert.Equal(paused, ((KvmVmState)machine.Vm.SaveState()).ClockNanoseconds);
        machine.Vm.ResumeTime();
        Assert.InRange(((KvmVmState)machine.Vm.SaveState()).ClockNanoseconds, paused, ulong.MaxValue);
    }
}
