using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// Saved states are hostile input: a state of the wrong kind, or with any length, index or value the software
/// CPU cannot hold, is refused with a <see cref="StateException"/> naming the field, and the vCPU or VM is left
/// exactly as it was.
/// </summary>
public class EmulatedStateHostileTests : IDisposable
{
    private readonly GuestMemory _memory = GuestMemory.Create(SnapshotGuest.MemorySize);
    private readonly IVirtualMachine _vm;
    private readonly IVcpu _vcpu;
    private readonly EmulatedVcpuState _vcpuState;
    private readonly EmulatedVmState _vmState;

    public EmulatedStateHostileTests()
    {
        _vm = new EmulatorAccelerator().CreateVirtualMachine(_memory, new VirtualMachineOptions(1, InstructionCountShift: 3));
        _vcpu = _vm.CreateVcpu(0);
        SnapshotGuest.Load(_memory, _vcpu);
        new SnapshotGuestDriver().RunExits(_vcpu, 40);
        _vcpuState = (EmulatedVcpuState)_vcpu.SaveState();
        _vmState = (EmulatedVmState)_vm.SaveState();
    }

    public void Dispose()
    {
        _vcpu.Dispose();
        _vm.Dispose();
        _memory.Dispose();
    }

    private static readonly Dictionary<string, Func<EmulatedVcpuState, EmulatedVcpuState>> VcpuDamage = new()
    {
        ["Index"] = s => s with { Index = 1 },
        ["Registers.Gpr"] = s => s with { Registers = s.Registers with { Gpr = new ulong[15] } },
        ["Registers.Rflags"] = s => s with { Registers = s.Registers with { Rflags = 1UL << 40 } },
        ["Special.Segments"] = s => s with { Special = s.Special with { Segments = s.Special.Segments[..5] } },
        ["Special.Segments[1].Dpl"] = s => s with { Special = s.Special with { Segments = [s.Special.Segments[0], s.Special.Segments[1] with { Dpl = 4 }, .. s.Special.Segments[2..]] } },
        ["Special.Tr"] = s => s with { Special = s.Special with { Tr = null! } },
        ["Special.Cr8"] = s => s with { Special = s.Special with { Cr8 = 16 } },
        ["Special.InterruptBitmap"] = s => s with { Special = s.Special with { InterruptBitmap = [1, 0, 0, 0] } },
        ["DebugRegisters"] = s => s with { DebugRegisters = new ulong[7] },
        ["Msrs[1]"] = s => s with { Msrs = [s.Msrs[0], s.Msrs[0], .. s.Msrs[1..]] },
        ["Msrs[0]"] = s => s with { Msrs = [new MsrValue { Index = 0xC000_0080, Value = 0 }] },
        ["X87"] = s => s with { X87 = null! },
        ["X87.Registers"] = s => s with { X87 = s.X87 with { Registers = new Float80State[9] } },
        ["X87.Tag"] = s => s with { X87 = s.X87 with { Tag = 0xFFFD } },
        ["X87.Opcode"] = s => s with { X87 = s.X87 with { Opcode = 0x800 } },
        ["Xmm"] = s => s with { Xmm = new ulong[31] },
        ["Mxcsr"] = s => s with { Mxcsr = 0x1_0000 },
        ["Apic.Irr"] = s => s with { Apic = s.Apic with { Irr = new uint[7] } },
        ["Apic.Lvt[0]"] = s => s with { Apic = s.Apic with { Lvt = [1u << 20, .. s.Apic.Lvt[1..]] } },
        ["Apic.Svr"] = s => s with { Apic = s.Apic with { Svr = 0x200 } },
        ["Apic.StartupVector"] = s => s with { Apic = s.Apic with { StartupVector = 300 } },
        ["Apic.Timer.Mode"] = s => s with { Apic = s.Apic with { Timer = s.Apic.Timer with { Mode = 3 } } },
        ["Apic.Timer.Period"] = s => s with { Apic = s.Apic with { Timer = s.Apic.Timer with { Period = -1 } } },
        ["Apic.Timer.DivideConfiguration"] = s => s with { Apic = s.Apic with { Timer = s.Apic.Timer with { DivideConfiguration = 4 } } },
        ["CompletedMmioRead.Size"] = s => s with { CompletedMmioRead = new MmioAccessState { Address = 0xD000_0000, Size = 3 } },
        ["CompletedMmioRead.Value"] = s => s with { CompletedMmioRead = new MmioAccessState { Address = 0xD000_0000, Size = 2, Value = 0x1_0000 } },
        ["PendingMmioWrites"] = s => s with { PendingMmioWrites = [.. Enumerable.Repeat(new MmioAccessState { Size = 4 }, 65)] },
    };

    public static TheoryData<string> VcpuFields => [.. VcpuDamage.Keys];

    [Theory]
    [MemberData(nameof(VcpuFields))]
    public void DamagedVcpuStateIsRefusedAndChangesNothing(string field)
    {
        string before = AcceleratorStateJson.Json(_vcpu.SaveState());
        var damaged = VcpuDamage[field](_vcpuState);
        var refusal = Assert.Throws<StateException>(() => _vcpu.RestoreState(damaged));
        Assert.StartsWith(field, refusal.Message);
        Assert.Equal(before, AcceleratorStateJson.Json(_vcpu.SaveState()));
    }

    [Fact]
    public void KvmVcpuStateIsRefused()
    {
        var refusal = Assert.Throws<StateException>(() => _vcpu.RestoreState(new KvmVcpuState()));
        Assert.Contains("KVM", refusal.Message);
    }

    [Fact]
    public void UndamagedStateLoads()
    {
        _vcpu.RestoreState(_vcpuState);
        _vm.RestoreState(_vmState);
        Assert.Equal(AcceleratorStateJson.Json(_vcpuState), AcceleratorStateJson.Json(_vcpu.SaveState()));
    }

    private static readonly Dictionary<string, Func<EmulatedVmState, EmulatedVmState>> VmDamage = new()
    {
        ["VcpuCount"] = s => s with { VcpuCount = 2 },
        ["GuestNanoseconds"] = s => s with { GuestNanoseconds = -1 },
        ["Chipset"] = s => s with { Chipset = null },
        ["Chipset.Pit"] = s => s with { Chipset = s.Chipset! with { Pit = null } },
        ["IoApic.Entries"] = s => s with { Chipset = s.Chipset! with { IoApic = s.Chipset.IoApic with { Entries = new ulong[23] } } },
        ["IoApic.Entries[3]"] = s => s with { Chipset = s.Chipset! with { IoApic = s.Chipset.IoApic with { Entries = [.. s.Chipset.IoApic.Entries[..3], 1UL << 30, .. s.Chipset.IoApic.Entries[4..]] } } },
        ["IoApic.Id"] = s => s with { Chipset = s.Chipset! with { IoApic = s.Chipset.IoApic with { Id = 16 } } },
        ["Pics.Master.PriorityBase"] = s => s with { Chipset = s.Chipset! with { Pics = s.Chipset.Pics with { Master = s.Chipset.Pics.Master with { PriorityBase = 8 } } } },
        ["Pics.Master.Elcr"] = s => s with { Chipset = s.Chipset! with { Pics = s.Chipset.Pics with { Master = s.Chipset.Pics.Master with { Elcr = 0x01 } } } },
        ["Pics.Slave.InitStep"] = s => s with { Chipset = s.Chipset! with { Pics = s.Chipset.Pics with { Slave = s.Chipset.Pics.Slave with { InitStep = 4 } } } },
        ["Pit.Channels"] = s => s with { Chipset = s.Chipset! with { Pit = s.Chipset.Pit! with { Channels = s.Chipset.Pit.Channels[..2] } } },
        ["Pit.Channels[0].Mode"] = s => s with { Chipset = s.Chipset! with { Pit = s.Chipset.Pit! with { Channels = [s.Chipset.Pit.Channels[0] with { Mode = 6 }, .. s.Chipset.Pit.Channels[1..]] } } },
        ["Pit.Channels[0].ActiveCount"] = s => s with { Chipset = s.Chipset! with { Pit = s.Chipset.Pit! with { Channels = [s.Chipset.Pit.Channels[0] with { Counting = true, ActiveCount = 0 }, .. s.Chipset.Pit.Channels[1..]] } } },
        ["Pit.Channels[2].Access"] = s => s with { Chipset = s.Chipset! with { Pit = s.Chipset.Pit! with { Channels = [.. s.Chipset.Pit.Channels[..2], s.Chipset.Pit.Channels[2] with { Access = 0 }] } } },
        ["Pit.PortB"] = s => s with { Chipset = s.Chipset! with { Pit = s.Chipset.Pit! with { PortB = 0x10 } } },
    };

    public static TheoryData<string> VmFields => [.. VmDamage.Keys];

    [Theory]
    [MemberData(nameof(VmFields))]
    public void DamagedVmStateIsRefusedAndChangesNothing(string field)
    {
        string before = AcceleratorStateJson.Json(_vm.SaveState());
        var refusal = Assert.Throws<StateException>(() => _vm.RestoreState(VmDamage[field](_vmState)));
        Assert.StartsWith(field, refusal.Message);
        Assert.Equal(before, AcceleratorStateJson.Json(_vm.SaveState()));
    }

    [Fact]
    public void KvmVmStateIsRefused() => Assert.Throws<StateException>(() => _vm.RestoreState(new KvmVmState()));

    [Fact]
    public void PitStateIsRefusedByAVmWithoutPit()
    {
        using var memory = GuestMemory.Create(SnapshotGuest.MemorySize);
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false, InstructionCountShift: 3));
        var refusal = Assert.Throws<StateException>(() => vm.RestoreState(_vmState));
        Assert.StartsWith("Chipset.Pit", refusal.Message);
    }

    [Fact]
    public void StateOfAnotherVcpuIndexIsRefused()
    {
        using var memory = GuestMemory.Create(SnapshotGuest.MemorySize);
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(2, InstructionCountShift: 3));
        using var second = vm.CreateVcpu(1);
        Assert.StartsWith("Index", Assert.Throws<StateException>(() => second.RestoreState(_vcpuState)).Message);
    }
}
