using Iced.Intel;
using KvmSharp.Devices.Bus;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine;

/// <summary>Whole machines with tiny multiboot guests assembled here, on KVM and (where the test names it) the software CPU.</summary>
public class MachineTests
{
    private const ushort DebugExit = 0xF4;

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void GuestPrintsOnCom1AndExitsThroughTheDebugPort(string accelerator)
    {
        using var vm = new TestMachine(TinyGuests.Hello("Hello, world!\n", DebugExit, 0x10), accelerator: accelerator);
        var exit = vm.RunToEnd();
        Assert.Equal(MachineExitReason.DebugExit, exit.Reason);
        Assert.Equal((0x10 << 1) | 1, exit.ExitStatus);
        Assert.Equal("Hello, world!\n", vm.Console.Output);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void DemoGuestReadsItsMultibootInfoAndPowersOff(string accelerator)
    {
        using var vm = new TestMachine(DemoGuest.Build(), c => c with { MemorySize = 256UL << 20 }, accelerator: accelerator);
        var exit = vm.RunToEnd();
        Assert.Equal(MachineExitReason.PowerOff, exit.Reason);
        Assert.Equal(0, exit.ExitStatus);
        // mem_upper is the KiB from 1 MiB to the first hole: (256 MiB - 1 MiB) / 1 KiB = 0x3fc00.
        Assert.Contains("Multiboot says there is 0x0003fc00 KiB", vm.Console.Output);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void PortAndMmioAccessesReachTheirDevices(string accelerator)
    {
        var portDevice = new RecordingDevice(readValue: 0x5A5A5A5A);
        var mmioDevice = new RecordingDevice(readValue: 0x11223344);
        const ulong MmioBase = 0xD000_0000;
        var image = MultibootFlatImage.Build(a =>
        {
            a.mov(dx, 0x700);
            a.mov(eax, 0x1234);
            a.@out(dx, ax);                        // 2-byte port write
            a.@in(eax, dx);                        // 4-byte port read
            a.mov(__dword_ptr[0x2000], eax);
            a.mov(__dword_ptr[MmioBase + 8], 0xCAFEBABE);  // MMIO write at offset 8
            a.mov(eax, __dword_ptr[MmioBase + 4]);          // MMIO read at offset 4
            a.mov(__dword_ptr[0x2004], eax);
            a.mov(dx, DebugExit);
            a.@out(dx, al);
        });
        using var vm = new TestMachine(image, build: b => b.WithPortDevice(0x700, 4, portDevice).WithMmioDevice(MmioBase, 0x1000, mmioDevice), accelerator: accelerator);
        var exit = vm.RunToEnd();
        Assert.Equal(MachineExitReason.DebugExit, exit.Reason);
        Assert.Equal([(0UL, 2, 0x1234UL)], portDevice.Writes);
        Assert.Equal([(0UL, 4)], portDevice.Reads);
        Assert.Equal(0x5A5A5A5Au, vm.Machine.Memory.Read<uint>(new GuestAddress(0x2000)));
        Assert.Equal([(8UL, 4, 0xCAFEBABEUL)], mmioDevice.Writes);
        Assert.Equal(0x11223344u, vm.Machine.Memory.Read<uint>(new GuestAddress(0x2004)));
    }

    [Theory]
    [InlineData("kvm", true)]
    [InlineData("kvm", false)]
    [InlineData("emulate", true)]
    [InlineData("emulate", false)]
    public void ThePitIsThereUnlessLeftOut(string accelerator, bool legacyTimer)
    {
        var image = MultibootFlatImage.Build(a =>
        {
            a.mov(al, 0xB4);          // counter 2, low then high byte, mode 2, binary (8254 datasheet, control word)
            a.@out(0x43, al);
            a.mov(al, 0x34);
            a.@out(0x42, al);
            a.mov(al, 0x12);
            a.@out(0x42, al);
            a.mov(al, 0x80);          // latch counter 2
            a.@out(0x43, al);
            a.@in(al, 0x42);
            a.mov(__byte_ptr[0x2000], al);
            a.@in(al, 0x42);
            a.mov(__byte_ptr[0x2001], al);
            a.mov(dx, DebugExit);
            a.@out(dx, al);
        });
        using var vm = new TestMachine(image, c => c with { LegacyTimer = legacyTimer }, accelerator: accelerator);
        Assert.Equal(MachineExitReason.DebugExit, vm.RunToEnd().Reason);
        ushort count = vm.Machine.Memory.Read<ushort>(new GuestAddress(0x2000));
        if (legacyTimer)
            Assert.InRange(count, (ushort)1, (ushort)0x1234);
        else
            Assert.Equal(0xFFFF, count);   // nothing decodes the PIT's ports: an unclaimed read is all ones
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void I8042ResetPulseEndsTheRunAsAReset(string accelerator)
    {
        var image = MultibootFlatImage.Build(a =>
        {
            a.mov(al, 0xFE);
            a.@out(0x64, al);
            TinyGuests.EmitHaltForever(a);
        });
        using var vm = new TestMachine(image, accelerator: accelerator);
        var exit = vm.RunToEnd();
        Assert.Equal(MachineExitReason.Reset, exit.Reason);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public async Task SpinningGuestPausesAndResumes(string accelerator)
    {
        var image = MultibootFlatImage.Build(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.inc(__dword_ptr[0x2000]);
            a.jmp(loop);
        });
        using var vm = new TestMachine(image, accelerator: accelerator);
        var counter = new GuestAddress(0x2000);
        vm.Machine.Start();
        WaitUntil(() => vm.Machine.Memory.Read<uint>(counter) > 0, "the guest never started counting");

        Assert.True(vm.Machine.Pause(TimeSpan.FromSeconds(10)), "the vCPU did not park within 10 s");
        Assert.Equal(1, vm.Machine.PausedVcpus);
        uint paused = vm.Machine.Memory.Read<uint>(counter);
        Thread.Sleep(200);
        Assert.Equal(paused, vm.Machine.Memory.Read<uint>(counter));

        vm.Machine.Resume();
        WaitUntil(() => vm.Machine.Memory.Read<uint>(counter) != paused, "the guest did not run again after resume");
        Assert.False(vm.Machine.Exit.IsCompleted);
        vm.Machine.Stop();
        var exit = await vm.Machine.Exit.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(MachineExitReason.Stopped, exit.Reason);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void BootProcessorStartsTheSecondVcpuWithInitSipi(string accelerator)
    {
        const uint Trampoline = 0x10000, BspCounter = 0x2000, ApCounter = 0x2004, LapicIcrLow = 0xFEE00300, LapicIcrHigh = 0xFEE00310, LapicSpuriousVector = 0xFEE000F0;
        // The AP wakes in real mode at CS:IP = (vector << 8):0 (Intel SDM vol 3 §10.4.4, §8.4.4.1) and counts in RAM.
        var ap = new Assembler(16);
        var apLoop = ap.CreateLabel();
        ap.xor(ax, ax);
        ap.mov(ds, ax);
        ap.Label(ref apLoop);
        ap.inc(__dword_ptr[ApCounter]);
        ap.jmp(apLoop);
        var apCode = new MemoryStream();
        ap.Assemble(new StreamCodeWriter(apCode), 0);

        var image = MultibootFlatImage.Build((a, data) =>
        {
            uint apSource = data.Add(apCode.ToArray());
            var bspLoop = a.CreateLabel();
            a.mov(esi, apSource);
            a.mov(edi, Trampoline);
            a.mov(ecx, (uint)apCode.Length);
            a.rep.movsb();
            a.mov(__dword_ptr[LapicSpuriousVector], 0x1FFu);   // software-enable the local APIC, as firmware does before IPIs
            a.mov(__dword_ptr[LapicIcrHigh], 1u << 24);       // destination: APIC id 1
            // INIT, then STARTUP twice with the vector = page of the trampoline, with pauses between (SDM vol 3 §8.4.4.1).
            a.mov(__dword_ptr[LapicIcrLow], 0x0000_4500u);
            EmitDelay(a);
            a.mov(__dword_ptr[LapicIcrLow], 0x0000_4600u | (Trampoline >> 12));
            EmitDelay(a);
            a.mov(__dword_ptr[LapicIcrLow], 0x0000_4600u | (Trampoline >> 12));
            a.Label(ref bspLoop);
            a.inc(__dword_ptr[BspCounter]);
            a.jmp(bspLoop);
        });
        using var vm = new TestMachine(image, c => c with { VcpuCount = 2 }, accelerator: accelerator);
        vm.Machine.Start();
        WaitUntil(() => vm.Machine.Memory.Read<uint>(new GuestAddress(BspCounter)) > 0, "the bootstrap vCPU never ran");
        WaitUntil(() => vm.Machine.Memory.Read<uint>(new GuestAddress(ApCounter)) > 0 || vm.Machine.Exit.IsCompleted, "the second vCPU never started after INIT/SIPI");
        Assert.False(vm.Machine.Exit.IsCompleted, $"the machine stopped: {(vm.Machine.Exit.IsCompleted ? vm.Machine.Exit.Result : null)}");
        uint bsp = vm.Machine.Memory.Read<uint>(new GuestAddress(BspCounter)), apCount = vm.Machine.Memory.Read<uint>(new GuestAddress(ApCounter));
        WaitUntil(() => vm.Machine.Memory.Read<uint>(new GuestAddress(BspCounter)) != bsp
                        && vm.Machine.Memory.Read<uint>(new GuestAddress(ApCounter)) != apCount, "both vCPUs did not keep running together");
        Assert.True(vm.Machine.Pause(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, vm.Machine.PausedVcpus);
        vm.Machine.Stop();
    }

    private static void EmitDelay(Assembler a)
    {
        var loop = a.CreateLabel();
        a.mov(ecx, 10_000);
        a.Label(ref loop);
        a.dec(ecx);
        a.jnz(loop);
    }

    private static void WaitUntil(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            Thread.Sleep(5);
        }
    }

    private sealed class RecordingDevice(uint readValue) : IBusDevice
    {
        public List<(ulong Offset, int Size, ulong Value)> Writes { get; } = [];
        public List<(ulong Offset, int Size)> Reads { get; } = [];

        public void Read(ulong offset, Span<byte> data)
        {
            lock (Reads) Reads.Add((offset, data.Length));
            BitConverter.TryWriteBytes(data, readValue);
            if (data.Length < 4) BitConverter.GetBytes(readValue).AsSpan(0, data.Length).CopyTo(data);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            Span<byte> value = stackalloc byte[8];
            data.CopyTo(value);
            lock (Writes) Writes.Add((offset, data.Length, BitConverter.ToUInt64(value)));
        }
    }
}
