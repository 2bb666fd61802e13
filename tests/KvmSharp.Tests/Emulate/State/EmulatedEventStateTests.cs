using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Memory;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// The states between instructions survive a restore: a CPU halted by HLT stays halted until an NMI wakes it, and
/// an application processor that received INIT and SIPI before the save starts where the SIPI said after it.
/// </summary>
public class EmulatedEventStateTests
{
    private const uint Code = 0x1000, Idt = 0x3000, NmiHandler = 0x2000, ApStart = 0x8000;

    private static byte[] Assemble(int bitness, ulong address, Action<Assembler> body)
    {
        var a = new Assembler(bitness);
        body(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    private static void WriteHaltingGuest(GuestMemory memory)
    {
        for (int i = 0; i < TinyGuest.FlatGdt.Length; i++) memory.Write(new GuestAddress(0x500 + (ulong)i * 8), TinyGuest.FlatGdt[i]);
        memory.Write(new GuestAddress(Idt + 2 * 8), TinyGuest.InterruptGate(NmiHandler));
        memory.Write(new GuestAddress(Code), Assemble(32, Code, a =>
        {
            a.cli();
            a.@out(0xEA, al);          // about to halt
            a.hlt();                   // only an NMI wakes it (IF = 0)
            a.@out(0xEB, al);
            a.hlt();
        }));
        memory.Write(new GuestAddress(NmiHandler), Assemble(32, NmiHandler, a =>
        {
            a.@out(0xE9, al);
            a.iretd();
        }));
    }

    /// <summary>Runs the vCPU on another thread until it returns; kicks it after a while if it is still inside.</summary>
    private static (VcpuExitReason Reason, ulong Port) RunWithKick(IVcpu vcpu)
    {
        (VcpuExitReason, ulong) result = default;
        var thread = new Thread(() =>
        {
            var exit = vcpu.Run();
            result = (exit.Reason, exit.Address);
        });
        thread.Start();
        if (!thread.Join(TimeSpan.FromMilliseconds(200))) vcpu.Kick();
        thread.Join();
        return result;
    }

    [Fact]
    public void HaltedCpuStaysHaltedAfterARestoreUntilAnNmi()
    {
        using var memory = GuestMemory.Create(4 << 20);
        WriteHaltingGuest(memory);
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        TinyGuest.StartFlat32(vcpu, Code, gdtBase: 0x500, idtBase: Idt, idtLimit: 3 * 8 - 1);
        var first = vcpu.Run();
        Assert.Equal((VcpuExitReason.IoOut, 0xEAUL), (first.Reason, first.Address));
        EmulatedVcpuState state;
        for (int attempt = 0; ; attempt++)
        {
            // The kick ends the HLT's wait; had it come before the HLT ran, the CPU is not halted yet: run again.
            Assert.Equal(VcpuExitReason.Kicked, RunWithKick(vcpu).Reason);
            state = (EmulatedVcpuState)vcpu.SaveState();
            if (state.Halted) break;
            Assert.True(attempt < 20, "the CPU never got to its HLT");
        }
        var vmState = AcceleratorStateJson.RoundTrip(vm.SaveState());
        var vcpuState = AcceleratorStateJson.RoundTrip(state);

        using var copy = GuestMemory.Create(4 << 20);
        copy.Write(new GuestAddress(0), memory.GetReadOnlySpan(new GuestAddress(0), 4 << 20));
        using var restoredVm = new EmulatorAccelerator().CreateVirtualMachine(copy, new VirtualMachineOptions(1, LegacyTimer: false));
        using var restored = restoredVm.CreateVcpu(0);
        restoredVm.RestoreState(vmState);
        restored.RestoreState(vcpuState);
        Assert.Equal(VcpuExitReason.Kicked, RunWithKick(restored).Reason);   // still halted: nothing ran
        restoredVm.SignalMsi(0xFEE0_0000, 0x400 | 2);                           // NMI to APIC 0
        Assert.Equal((VcpuExitReason.IoOut, 0xE9UL), RunWithKick(restored));    // the NMI handler
        Assert.Equal((VcpuExitReason.IoOut, 0xEBUL), RunWithKick(restored));    // then on after the HLT
    }

    [Fact]
    public void ApplicationProcessorStartsWhereASipiReceivedBeforeTheSaveSays()
    {
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(Code), Assemble(32, Code, a =>
        {
            a.mov(__dword_ptr[0xFEE0_0310], 0x0100_0000u);   // ICR high: APIC 1
            a.mov(__dword_ptr[0xFEE0_0300], 0x0000_4500u);   // INIT
            a.mov(__dword_ptr[0xFEE0_0300], 0x0000_4608u);   // STARTUP, vector 8: CS = 0x800, IP = 0
            a.@out(0xE9, al);
            a.hlt();
        }));
        memory.Write(new GuestAddress(ApStart), Assemble(16, ApStart, a =>
        {
            a.mov(al, 0x42);
            a.@out(0xEC, al);
            a.hlt();
        }));
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(2, LegacyTimer: false));
        using var bsp = vm.CreateVcpu(0);
        using var ap = vm.CreateVcpu(1);
        TinyGuest.StartFlat32(bsp, Code);
        Assert.Equal(VcpuExitReason.IoOut, bsp.Run().Reason);
        var apState = (EmulatedVcpuState)AcceleratorStateJson.RoundTrip(ap.SaveState());
        Assert.True(apState.Apic.WaitingForStartup);
        Assert.Equal(8, apState.Apic.StartupVector);
        var vmState = vm.SaveState();

        using var copy = GuestMemory.Create(4 << 20);
        copy.Write(new GuestAddress(0), memory.GetReadOnlySpan(new GuestAddress(0), 4 << 20));
        using var restoredVm = new EmulatorAccelerator().CreateVirtualMachine(copy, new VirtualMachineOptions(2, LegacyTimer: false));
        using var restoredBsp = restoredVm.CreateVcpu(0);
        using var restoredAp = restoredVm.CreateVcpu(1);
        restoredVm.RestoreState(vmState);
        restoredAp.RestoreState(apState);
        var exit = restoredAp.Run();
        Assert.Equal((VcpuExitReason.IoOut, 0xECUL, (byte)0x42), (exit.Reason, exit.Address, exit.Data[0]));
        restoredAp.GetSpecialRegisters(out var s);
        Assert.Equal(0x800, s.Cs.Selector);
    }
}
