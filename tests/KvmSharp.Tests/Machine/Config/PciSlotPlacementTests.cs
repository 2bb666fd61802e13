using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Entropy;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>The machine puts each virtio device in the slot its config names, as the guest sees through PCI configuration space.</summary>
public class PciSlotPlacementTests
{
    private const ushort DebugExit = 0xF4;
    private const ulong Table = 0x2000;

    /// <summary>
    /// A guest that reads the vendor/device dword of function 0 in each slot of bus 0 (configuration mechanism #1,
    /// PCI Local Bus 3.0 §3.2.2.3.2) into a table at <see cref="Table"/>, then exits.
    /// </summary>
    private static byte[] SlotReader() => MultibootFlatImage.Build(a =>
    {
        var next = a.CreateLabel();
        a.xor(ebx, ebx);
        a.Label(ref next);
        a.mov(eax, ebx);
        a.shl(eax, 11);
        a.or(eax, 0x8000_0000);
        a.mov(dx, 0xCF8);
        a.@out(dx, eax);
        a.mov(dx, 0xCFC);
        a.@in(eax, dx);
        a.mov(__dword_ptr[ebx * 4 + (int)Table], eax);
        a.inc(ebx);
        a.cmp(ebx, 32);
        a.jb(next);
        TinyGuests.EmitDebugExit(a, DebugExit, 0);
    });

    private static uint Id(VirtioDeviceType type) => (uint)(VirtioPciLayout.DeviceIdBase + (ushort)type) << 16 | VirtioPciLayout.VendorId;

    [Fact]
    public void DevicesSitInTheirConfiguredSlotsAndEmbeddersDevicesInTheFreeOnes()
    {
        using var vm = new TestMachine(SlotReader(), c => c with
        {
            Rng = new RngConfig { Slot = 7 },
            Balloon = new BalloonConfig(),                       // the lowest free slot: 1
            VirtioConsole = new VirtioConsoleConfig(ConsoleKind.None) { Slot = 2 },
        }, build: b => b.WithVirtioDevice("extra-rng", () => new VirtioEntropyDevice(_ => { })), accelerator: "emulate");
        Assert.Equal(MachineExitReason.DebugExit, vm.RunToEnd().Reason);
        var ids = Enumerable.Range(0, 32).Select(slot => vm.Machine.Memory.Read<uint>(new GuestAddress(Table + 4 * (ulong)slot))).ToArray();
        Assert.Equal(Id(VirtioDeviceType.Balloon), ids[1]);
        Assert.Equal(Id(VirtioDeviceType.Console), ids[2]);
        Assert.Equal(Id(VirtioDeviceType.Entropy), ids[3]);   // the embedder's device
        Assert.Equal(Id(VirtioDeviceType.Entropy), ids[7]);
        Assert.All(new[] { 4, 5, 6 }.Concat(Enumerable.Range(8, 24)), slot => Assert.Equal(0xFFFF_FFFFu, ids[slot]));
    }

    [Fact]
    public void TwoDevicesInOneSlotAreRefusedBeforeTheMachineIsBuilt()
    {
        var e = Assert.Throws<MachineConfigException>(() => new TestMachine(SlotReader(), c => c with
        {
            Rng = new RngConfig { Slot = 4 },
            Balloon = new BalloonConfig { Slot = 4 },
        }, accelerator: "emulate").Dispose());
        Assert.Equal("balloon.slot", Assert.Single(e.Problems).Field);
        Assert.Equal("balloon.slot: slot 4 is already taken by rng", e.Message);
    }
}
