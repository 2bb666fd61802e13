using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Kvm.TinyGuest;

namespace KvmSharp.Tests.Kvm;

public class KvmVcpuTests
{
    [Fact]
    public void PortWriteExitCarriesTheGuestsByte()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            a.mov(dx, 0x3F8);
            a.mov(al, (byte)'K');
            a.@out(dx, al);
            a.mov(eax, 0x12345678);
            a.mov(dx, 0x500);
            a.@out(dx, eax);
            a.@in(eax, dx);
            a.mov(__dword_ptr[0x2000], eax);
            a.@out(dx, al);
        }, CodeAddress));
        using var accel = new KvmAccelerator();
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1));
        using var vcpu = vm.CreateVcpu(0);
        using var attachment = vcpu.AttachToCurrentThread();
        StartFlat32(vcpu, CodeAddress);

        var exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
        Assert.Equal(0x3F8UL, exit.Address);
        Assert.Equal((byte)'K', exit.Data[0]);

        exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
        Assert.Equal(4, exit.Size);
        Assert.Equal(0x12345678u, BitConverter.ToUInt32(exit.Data));

        exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.IoIn, exit.Reason);
        BitConverter.TryWriteBytes(exit.Data, 0xCAFEF00Du);

        exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
        Assert.Equal(0xCAFEF00Du, memory.Read<uint>(new GuestAddress(0x2000)));
    }

    [Fact]
    public void KickInterruptsASpinningGuest()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(__dword_ptr[0x2000]);
            a.jmp(loop);
        }, CodeAddress));
        using var accel = new KvmAccelerator();
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1));
        using var vcpu = vm.CreateVcpu(0);
        StartFlat32(vcpu, CodeAddress);

        var kicked = new List<bool>();
        var thread = new Thread(() =>
        {
            using var attachment = vcpu.AttachToCurrentThread();
            for (int i = 0; i < 5; i++)
                kicked.Add(vcpu.Run().Reason == VcpuExitReason.Kicked);
        });
        thread.Start();
        for (int i = 0; i < 5 && thread.IsAlive; i++)
        {
            Thread.Sleep(50);
            vcpu.Kick();
        }
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the vCPU thread did not come back from KVM_RUN after five kicks");
        Assert.Equal([true, true, true, true, true], kicked);
        Assert.NotEqual(0u, memory.Read<uint>(new GuestAddress(0x2000)));
    }
}
