using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Memory;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// A tiny firmware image run the way SeaBIOS and OVMF are: mapped as flash ending at 4 GiB, the vCPU left at its reset
/// state (real mode, CS base 0xFFFF0000, IP 0xFFF0; Intel SDM vol 3 §9.1.4). Its code tries to write into the flash,
/// which, as on a PC and as KVM's read-only slot makes it, must not change.
/// </summary>
public class ResetVectorTests
{
    private const byte DebugPort = 0xE9;
    private const int ImageSize = 4096;
    private const ushort CodeOffset = 0xF000, DataOffset = 0xF800;   // CS-relative: the image starts at 0xFFFFF000

    private static byte[] Image()
    {
        var image = new byte[ImageSize];
        image[DataOffset - CodeOffset] = 0xAA;
        var a = new Assembler(16);
        a.mov(al, (byte)'R');
        a.@out(DebugPort, al);
        // CS-relative (CS's base is 0xFFFF0000 until a far jump reloads it): mov byte cs:[0xF800], 0x55 (a write into
        // the flash, dropped); mov al, cs:[0xF800].
        a.db(0x2E, 0xC6, 0x06, DataOffset & 0xFF, DataOffset >> 8, 0x55);
        a.db(0x2E, 0xA0, DataOffset & 0xFF, DataOffset >> 8);
        a.@out(DebugPort, al);
        a.hlt();
        Write(a, CodeOffset, image, 0);
        var reset = new Assembler(16);
        reset.jmp((ulong)CodeOffset);
        Write(reset, 0xFFF0, image, ImageSize - 16);
        return image;
    }

    private static void Write(Assembler a, ulong ip, byte[] image, int at)
    {
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), ip);
        stream.ToArray().CopyTo(image, at);
    }

    [Theory]
    [InlineData("emulate")]
    [InlineData("kvm")]
    public void TheResetVectorRunsFromTheFlashWhichIgnoresWrites(string accelerator)
    {
        if (accelerator == "kvm") KvmRequirement.Ensure();
        using var memory = GuestMemory.Create(2 << 20);
        memory.MapFirmware(Image());
        using IAccelerator backend = accelerator == "kvm" ? new KvmAccelerator() : new EmulatorAccelerator();
        using var vm = backend.CreateVirtualMachine(memory, new VirtualMachineOptions(1, LegacyTimer: false));
        using var vcpu = vm.CreateVcpu(0);
        using var attachment = vcpu.AttachToCurrentThread();
        vcpu.GetRegisters(out var registers);
        Assert.Equal(0xFFF0UL, registers.Rip);   // left at the reset state

        var output = new List<byte>();
        int flashWrites = 0;
        for (int exits = 0; exits < 50 && output.Count < 2; exits++)
        {
            var exit = vcpu.Run();
            if (exit.Reason == VcpuExitReason.IoOut && exit.Address == DebugPort) output.Add(exit.Data[0]);
            else if (exit.Reason == VcpuExitReason.MmioWrite && exit.Address == 0xFFFF_F800) flashWrites++;
            else if (exit.Reason is VcpuExitReason.Failed or VcpuExitReason.Shutdown) Assert.Fail($"{exit.Reason} {exit.Message}");
        }
        Assert.Equal([(byte)'R', 0xAA], output);
        Assert.Equal(1, flashWrites);                          // the write left the CPU as an MMIO write, for the bus to drop
        Assert.Equal(0xAA, System.Runtime.InteropServices.Marshal.ReadByte(memory.Firmware!.HostAddress + 0x800));
    }
}
