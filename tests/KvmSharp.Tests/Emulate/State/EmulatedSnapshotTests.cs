using System.Runtime.InteropServices;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// Save and restore of the software CPU as a whole: a guest runs, the VM and vCPU are saved (through JSON, as the
/// machine layer will store them) with a copy of RAM, and the original and a restored copy in a fresh VM then
/// run on side by side. With instruction-counted time both must take the same exits with the same data, the same
/// timer interrupts at the same instructions, and end with the same registers and memory.
/// </summary>
public class EmulatedSnapshotTests
{
    private const int InstructionCountShift = 3;

    private sealed class Machine : IDisposable
    {
        public required GuestMemory Memory { get; init; }
        public required IVirtualMachine Vm { get; init; }
        public required IVcpu Vcpu { get; init; }

        public static Machine Create(GuestMemory memory, bool legacyTimer = true)
        {
            var vm = new EmulatorAccelerator(notice: line => Assert.Fail(line))
                .CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: legacyTimer, InstructionCountShift: InstructionCountShift));
            return new Machine { Memory = memory, Vm = vm, Vcpu = vm.CreateVcpu(0) };
        }

        public void Dispose()
        {
            Vcpu.Dispose();
            Vm.Dispose();
            Memory.Dispose();
        }
    }

    private sealed record Snapshot(VmState Vm, VcpuState Vcpu, byte[] Ram);

    private static Snapshot Save(Machine machine)
    {
        machine.Vcpu.CompletePendingIo();
        machine.Vcpu.OnPaused();
        machine.Vm.PauseTime();
        var snapshot = new Snapshot(
            AcceleratorStateJson.RoundTrip(machine.Vm.SaveState()),
            AcceleratorStateJson.RoundTrip(machine.Vcpu.SaveState()),
            machine.Memory.GetReadOnlySpan(new GuestAddress(0), (int)SnapshotGuest.MemorySize).ToArray());
        machine.Vm.ResumeTime();
        return snapshot;
    }

    private static Machine Restore(Snapshot snapshot)
    {
        var memory = GuestMemory.Create(SnapshotGuest.MemorySize);
        memory.Write(new GuestAddress(0), snapshot.Ram);
        var machine = Machine.Create(memory);
        machine.Vm.RestoreState(snapshot.Vm);
        machine.Vcpu.RestoreState(snapshot.Vcpu);
        return machine;
    }

    private static uint Read32(Machine machine, uint address) => machine.Memory.Read<uint>(new GuestAddress(address));

    private static void AssertSameCpu(IVcpu expected, IVcpu actual)
    {
        expected.GetRegisters(out var r1);
        actual.GetRegisters(out var r2);
        Assert.Equal(Bytes(r1), Bytes(r2));
        expected.GetSpecialRegisters(out var s1);
        actual.GetSpecialRegisters(out var s2);
        Assert.Equal(Bytes(s1), Bytes(s2));
        expected.GetFpu(out var f1);
        actual.GetFpu(out var f2);
        Assert.Equal(Bytes(f1), Bytes(f2));
        Assert.Equal(AcceleratorStateJson.Json(expected.SaveState()), AcceleratorStateJson.Json(actual.SaveState()));
    }

    private static byte[] Bytes<T>(T value) where T : unmanaged => MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref value, 1)).ToArray();

    [Theory]
    [InlineData(VcpuExitReason.IoOut)]
    [InlineData(VcpuExitReason.IoIn)]
    [InlineData(VcpuExitReason.MmioRead)]
    [InlineData(VcpuExitReason.MmioWrite)]
    public void RestoredCopyContinuesExactlyAsTheOriginal(VcpuExitReason saveAfter)
    {
        using var original = Machine.Create(GuestMemory.Create(SnapshotGuest.MemorySize));
        SnapshotGuest.Load(original.Memory, original.Vcpu);
        var driver = new SnapshotGuestDriver();
        driver.RunExits(original.Vcpu, 400, stopAt: saveAfter);
        uint apicAtSave = Read32(original, SnapshotGuest.ApicTicks), pitAtSave = Read32(original, SnapshotGuest.PitTicks);
        Assert.True(apicAtSave > 0 && pitAtSave > 0, $"the timers ran before the save: APIC {apicAtSave}, PIT {pitAtSave}");

        var snapshot = Save(original);
        using var restored = Restore(snapshot);
        var restoredDriver = driver.Clone();

        driver.RunExits(original.Vcpu, 600);
        restoredDriver.RunExits(restored.Vcpu, 600);

        Assert.Equal(driver.Log[^600..], restoredDriver.Log);
        AssertSameCpu(original.Vcpu, restored.Vcpu);
        Assert.True(original.Memory.GetReadOnlySpan(new GuestAddress(0), (int)SnapshotGuest.MemorySize)
            .SequenceEqual(restored.Memory.GetReadOnlySpan(new GuestAddress(0), (int)SnapshotGuest.MemorySize)), "RAM differs");
        // Both timers went on counting in the restored copy (and, RAM being equal, exactly as in the original).
        Assert.True(Read32(restored, SnapshotGuest.ApicTicks) > apicAtSave + 10, "the APIC timer stopped after the restore");
        Assert.True(Read32(restored, SnapshotGuest.PitTicks) > pitAtSave, "the PIT stopped after the restore");
    }

    [Fact]
    public void RestoringIntoTheSameVmReplaysTheSameRun()
    {
        using var machine = Machine.Create(GuestMemory.Create(SnapshotGuest.MemorySize));
        SnapshotGuest.Load(machine.Memory, machine.Vcpu);
        var driver = new SnapshotGuestDriver();
        driver.RunExits(machine.Vcpu, 300, stopAt: VcpuExitReason.IoIn);
        var snapshot = Save(machine);
        var replay = driver.Clone();
        driver.RunExits(machine.Vcpu, 400);
        var firstRun = driver.Log[^400..];

        // Back to the snapshot in the same VM: its TLB, decoded blocks, timers and clock are all ahead of the state now.
        machine.Memory.Write(new GuestAddress(0), snapshot.Ram);
        machine.Vm.RestoreState(snapshot.Vm);
        machine.Vcpu.RestoreState(snapshot.Vcpu);
        replay.RunExits(machine.Vcpu, 400);
        Assert.Equal(firstRun, replay.Log);
    }

    [Fact]
    public void GuestTimeContinuesFromTheSavedTime()
    {
        using var original = Machine.Create(GuestMemory.Create(SnapshotGuest.MemorySize));
        SnapshotGuest.Load(original.Memory, original.Vcpu);
        new SnapshotGuestDriver().RunExits(original.Vcpu, 200);
        var snapshot = Save(original);
        long savedNanoseconds = ((EmulatedVmState)snapshot.Vm).GuestNanoseconds;
        Assert.True(savedNanoseconds > 0);

        using var restored = Restore(snapshot);
        Assert.Equal(savedNanoseconds, ((EmulatedVmState)restored.Vm.SaveState()).GuestNanoseconds);
        // The guest's TSC reads go on from there: the first one after the restore is above the last one before.
        uint tscBefore = Read32(restored, SnapshotGuest.LastTsc);
        new SnapshotGuestDriver().RunExits(restored.Vcpu, 2);
        Assert.True(Read32(restored, SnapshotGuest.LastTsc) - tscBefore is > 0 and < 1u << 30, "the TSC went back or jumped");
    }
}
