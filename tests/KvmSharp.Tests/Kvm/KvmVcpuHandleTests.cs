using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Kvm.TinyGuest;

namespace KvmSharp.Tests.Kvm;

/// <summary>
/// KVM_RUN is the one call that uses a vCPU fd's raw number: the vCPU thread's attachment holds a reference on the
/// fd and the kvm_run mapping, so a Dispose from another thread while it runs closes neither until it detaches.
/// Counts this process's vCPU fds, so it runs alone.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class KvmVcpuHandleTests
{
    [Fact]
    public void AVcpuDisposedWhileAttachedKeepsItsFdAndRunPageUntilItsThreadDetaches()
    {
        KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(CodeAddress), Assemble32(a =>
        {
            a.mov(dx, 0x500);
            a.mov(al, 1);
            a.@out(dx, al);
            a.mov(al, 2);
            a.@out(dx, al);
        }, CodeAddress));
        using var accel = new KvmAccelerator();
        using var vm = accel.CreateVirtualMachine(memory, new VirtualMachineOptions(1));
        var vcpu = vm.CreateVcpu(0);
        var attachment = vcpu.AttachToCurrentThread();
        StartFlat32(vcpu, CodeAddress);
        Assert.Equal(1, VcpuFds());

        var exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
        Assert.Equal(1, exit.Data[0]);

        vcpu.Dispose();   // as a machine torn down from another thread would
        Assert.Equal(1, VcpuFds());
        vcpu.Kick();      // the kvm_run page is still mapped: immediate_exit set, no crash
        exit = vcpu.Run();
        Assert.Equal(VcpuExitReason.Kicked, exit.Reason);

        attachment.Dispose();
        Assert.Equal(0, VcpuFds());
        vcpu.Kick();      // the page is gone now: the kick does nothing instead of writing to unmapped memory
    }

    /// <summary>This process's open KVM vCPU descriptors (their /proc/self/fd links read anon_inode:kvm-vcpu:N).</summary>
    private static int VcpuFds() => Directory.GetFiles("/proc/self/fd")
        .Count(fd => new FileInfo(fd).LinkTarget?.StartsWith("anon_inode:kvm-vcpu", StringComparison.Ordinal) == true);
}
