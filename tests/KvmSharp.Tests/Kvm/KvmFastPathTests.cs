using System.Collections.Concurrent;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Kvm.TinyGuest;

namespace KvmSharp.Tests.Kvm;

/// <summary>ioeventfd doorbells and irqfd-routed MSIs against the real /dev/kvm, with tiny guests.</summary>
public class KvmFastPathTests
{
    private const uint Doorbell = 0xD000_0000, OtherMmio = 0xD000_1000;

    [Fact]
    public void RegisteredDoorbellWriteSignalsTheNotifierInsteadOfExiting()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            a.mov(__word_ptr[Doorbell], 0x1234);
            a.mov(__dword_ptr[OtherMmio], 0x5678);
        }, CodeAddress));
        var notices = new List<string>();
        using var accel = new KvmAccelerator(notice: notices.Add);
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        using var attachment = vcpu.AttachToCurrentThread();
        using var doorbell = new EventNotifier();
        Assert.Empty(notices);

        Assert.True(vm.TryAddIoEventNotifier(Doorbell, 2, doorbell));
        StartFlat32(vcpu, CodeAddress);
        var exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.MmioWrite, exit.Reason);
        Assert.Equal(OtherMmio, exit.Address);
        Assert.True(doorbell.Drain(), "the guest's doorbell write did not signal the notifier");

        vm.RemoveIoEventNotifier(Doorbell, 2, doorbell);
        StartFlat32(vcpu, CodeAddress);
        exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.MmioWrite, exit.Reason);
        Assert.Equal(Doorbell, exit.Address);
        Assert.Equal(2, exit.Size);
        Assert.Equal(0x1234, BitConverter.ToUInt16(exit.Data));
        Assert.False(doorbell.Drain());
    }

    [Fact]
    public void UnsupportedDoorbellLengthIsRefused()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        using var accel = new KvmAccelerator(notice: _ => { });
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var doorbell = new EventNotifier();
        Assert.False(vm.TryAddIoEventNotifier(Doorbell, 3, doorbell));
        Assert.False(vm.TryAddIoEventNotifier(Doorbell, 0, doorbell));
    }

    private const byte Vector = 0x41;
    private const ushort ReadyPort = 0x510, VectorPort = 0x512;
    private const ulong IdleAddress = 0x1800, GdtAddress = 0x3000, IdtAddress = 0x4000, HandlerAddress = 0x5000;

    /// <summary>
    /// A guest that enables its local APIC (SVR bit 8, SDM vol 3 §11.4.7.1 — xAPIC at 0xFEE00000), says it
    /// is ready on a port, then idles in sti/hlt; its handler for <see cref="Vector"/> reports the vector and
    /// sends EOI (§11.8.5). The handler drops its interrupt frame and jumps back to the idle loop instead
    /// of IRET: on a software-backed /dev/kvm every guest instruction goes through KVM's instruction
    /// emulator, whose IRET handles real mode only (Linux arch/x86/kvm/emulate.c, em_iret).
    /// </summary>
    private static void WriteInterruptGuest(GuestMemory memory)
    {
        for (int i = 0; i < FlatGdt.Length; i++) memory.Write(new GuestAddress(GdtAddress + (ulong)i * 8), FlatGdt[i]);
        memory.Write(new GuestAddress(IdtAddress + Vector * 8UL), InterruptGate((uint)HandlerAddress));
        memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            a.mov(__dword_ptr[0xFEE000F0], 0x1FF);
            a.mov(dx, ReadyPort);
            a.mov(al, (byte)'R');
            a.@out(dx, al);
            a.jmp(IdleAddress);
        }, CodeAddress));
        memory.Write(new GuestAddress(IdleAddress), Assemble32(a =>
        {
            a.sti();
            a.hlt();
            a.jmp(IdleAddress);
        }, IdleAddress));
        memory.Write(new GuestAddress(HandlerAddress), Assemble32(a =>
        {
            a.mov(dx, VectorPort);
            a.mov(al, Vector);
            a.@out(dx, al);
            a.mov(__dword_ptr[0xFEE000B0], 0);
            a.add(esp, 12); // EIP, CS, EFLAGS of a same-privilege interrupt gate (SDM vol 3 §6.12.1)
            a.jmp(IdleAddress);
        }, HandlerAddress));
    }

    [Fact]
    public void MsiFromADeviceThreadReachesTheGuestThroughIrqfd()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        WriteInterruptGuest(memory);
        var notices = new ConcurrentQueue<string>();
        using var accel = new KvmAccelerator(notice: notices.Enqueue);
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        StartFlat32(vcpu, CodeAddress, GdtAddress, IdtAddress, 0x7FF);
        Assert.Empty(notices);

        var exits = new BlockingCollection<string>();
        var thread = new Thread(() =>
        {
            using var attachment = vcpu.AttachToCurrentThread();
            while (true)
            {
                var exit = vcpu.Run();
                string seen = exit.Reason is VcpuExitReason.IoOut ? $"out {exit.Address:X}={exit.Data[0]:X2}" : $"{exit.Reason} {exit.Message}";
                exits.Add(seen);
                if (exit.Reason is not VcpuExitReason.IoOut) return;
            }
        });
        thread.Start();
        try
        {
            Assert.Equal($"out {ReadyPort:X}=52", Next(exits));
            Assert.False(exits.TryTake(out string? early, TimeSpan.FromMilliseconds(200)), $"the guest left its idle loop by itself: {early}");
            const ulong apicId0 = 0xFEE0_0000;
            // First send: a miss in the route cache (GSI routing + irqfd set up); the second: a hit (eventfd only).
            new Thread(() => vm.SignalMsi(apicId0, Vector)).Start();
            Assert.Equal($"out {VectorPort:X}={Vector:X2}", Next(exits));
            new Thread(() => vm.SignalMsi(apicId0, Vector)).Start();
            Assert.Equal($"out {VectorPort:X}={Vector:X2}", Next(exits));
            Assert.Empty(notices); // no fallback to KVM_SIGNAL_MSI was announced
        }
        finally
        {
            vcpu.Kick();
            Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the vCPU thread did not stop");
        }
    }

    private static string Next(BlockingCollection<string> exits) =>
        exits.TryTake(out var exit, TimeSpan.FromSeconds(30)) ? exit : "no exit within 30 s (the MSI was not delivered)";
}
