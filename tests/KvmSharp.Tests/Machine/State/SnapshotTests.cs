using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine.State;

/// <summary>Whole-machine snapshots: a paused machine saved to a state file and a memory file, and brought back in a fresh controller.</summary>
public sealed class SnapshotTests : IDisposable
{
    private static readonly GuestAddress Counter = new(0x2000);
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-snapshot").FullName;
    private readonly List<IDisposable> _owned = [];

    /// <summary>Counts in memory and prints a dot on COM1 every 2^16 counts.</summary>
    private static readonly byte[] CountingGuest = MultibootFlatImage.Build(a =>
    {
        var loop = a.CreateLabel();
        var noDot = a.CreateLabel();
        a.Label(ref loop);
        a.inc(__dword_ptr[0x2000]);
        a.test(__dword_ptr[0x2000], 0xFFFF);
        a.jnz(noDot);
        a.mov(dx, TinyGuests.Com1);
        a.mov(al, (byte)'.');
        a.@out(dx, al);
        a.Label(ref noDot);
        a.jmp(loop);
    });

    private string StatePath => Path.Combine(_dir, "vm.state");
    private string MemoryPath => Path.Combine(_dir, "vm.mem");

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void ARestoredMachineGoesOnFromWhereItWasSaved(string accelerator)
    {
        uint saved;
        using (var machine = Boot(accelerator, out var console))
        {
            Poll.Until(() => console.Output.Length >= 2, () => "the guest never printed");
            machine.Pause();
            saved = machine.Current!.Memory.Read<uint>(Counter);
            var result = machine.CreateSnapshot(StatePath, MemoryPath);
            Assert.True(result.StateBytes > 0);
            // The memory file has RAM's size but holds data only where the guest or the loader wrote.
            Assert.Equal((long)machine.Current.Memory.Size, new FileInfo(MemoryPath).Length);
            Assert.True(result.MemoryDataBytes < machine.Current.Memory.Size / 4, $"{result.MemoryDataBytes} bytes of data");
            machine.Resume();
            Poll.Until(() => machine.Current!.Memory.Read<uint>(Counter) != saved, () => "the source did not go on after the snapshot");
        }

        var restoredConsole = Track(new CapturingConsole());
        using var restored = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = restoredConsole });
        restored.LoadSnapshot(StatePath, MemoryPath, resume: false);
        Assert.Equal(MachinePhase.Paused, restored.Phase);
        Assert.Equal(saved, restored.Current!.Memory.Read<uint>(Counter));
        Assert.Equal(accelerator, restored.Current.AcceleratorName);
        restored.Resume();
        Poll.Until(() => restored.Current!.Memory.Read<uint>(Counter) > saved + 0x20000, () => "the restored guest does not count on");
        Poll.Until(() => restoredConsole.Output.Contains('.'), () => "the restored guest's console is silent");
        Assert.Equal(1, restored.Boots);
    }

    [Fact]
    public void ASnapshotNeedsAPausedMachineAndALoadAFreshOne()
    {
        using var machine = Boot("emulate", out _);
        Assert.Contains("is running", Assert.Throws<MachinePhaseException>(() => machine.CreateSnapshot(StatePath, MemoryPath)).Message);
        Assert.Contains("is running", Assert.Throws<MachinePhaseException>(() => machine.LoadSnapshot(StatePath, MemoryPath, false)).Message);
    }

    [Fact]
    public void DamagedSnapshotsAreRefusedAndNothingStarts()
    {
        using (var machine = Boot("emulate", out var console))
        {
            Poll.Until(() => console.Output.Length >= 1, () => "the guest never printed");
            machine.Pause();
            machine.CreateSnapshot(StatePath, MemoryPath);
        }
        byte[] good = File.ReadAllBytes(StatePath);
        var random = new Random(1234);
        for (int i = 0; i < 40; i++)
        {
            byte[] bad = (byte[])good.Clone();
            if (i % 4 == 0) bad = bad[..random.Next(bad.Length)];                          // truncated
            else bad[random.Next(bad.Length)] ^= (byte)(1 << random.Next(8));               // one bit flipped
            File.WriteAllBytes(StatePath, bad);
            using var target = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
            Assert.Throws<StateException>(() => target.LoadSnapshot(StatePath, MemoryPath, resume: true));
            Assert.Equal(MachinePhase.NotStarted, target.Phase);
        }

        File.WriteAllBytes(StatePath, good);
        using (var stream = File.OpenWrite(MemoryPath)) stream.SetLength(stream.Length / 2);
        using var halfMemory = new MachineController(new MachineConfig(), new MachineControllerOptions { Console = Track(new CapturingConsole()) });
        Assert.Contains("memory file", Assert.Throws<StateException>(() => halfMemory.LoadSnapshot(StatePath, MemoryPath, resume: true)).Message);
        Assert.Equal(MachinePhase.NotStarted, halfMemory.Phase);
    }

    private MachineController Boot(string accelerator, out CapturingConsole console)
    {
        KvmRequirement.EnsureFor(accelerator);
        string kernel = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(kernel, CountingGuest);
        console = Track(new CapturingConsole());
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(kernel),
            MemorySize = 64UL << 20,
            Accelerator = accelerator == "kvm" ? AcceleratorChoice.Kvm : AcceleratorChoice.Emulate,
        };
        var machine = new MachineController(config, new MachineControllerOptions { Console = console });
        machine.Start();
        return machine;
    }

    private T Track<T>(T disposable) where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
