using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;
using KvmSharp.Memory;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine.Control;

/// <summary>A machine's life through <see cref="MachineController"/>: reboots, pause, the host's buttons, phases.</summary>
public sealed class MachineControllerTests : IDisposable
{
    private const ushort DebugExitPort = 0xF4;
    private static readonly GuestAddress Counter = new(0x2000);
    private readonly List<string> _files = [];
    private readonly List<IDisposable> _consoles = [];

    /// <summary>Prints "boot" and then pulses the reset line through the i8042.</summary>
    private static readonly byte[] ResettingGuest = MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        a.mov(esp, 0x90000);
        a.mov(esi, data.AddString("boot\n"));
        a.call(puts);
        a.mov(al, 0xFE);
        a.@out(0x64, al);
        TinyGuests.EmitHaltForever(a);
        TinyGuests.EmitPuts(a, puts);
    });

    /// <summary>Counts in memory forever.</summary>
    private static readonly byte[] CountingGuest = MultibootFlatImage.Build(a =>
    {
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.inc(__dword_ptr[0x2000]);
        a.jmp(loop);
    });

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void AGuestResetBootsTheMachineAgainOnTheSameConsole(string accelerator)
    {
        var console = new CapturingConsole();
        using var machine = Create(ResettingGuest, accelerator, new MachineControllerOptions { Console = console });
        machine.Start();
        Poll.Until(() => Poll.Occurrences(console.Output, "boot") >= 3, () => $"the machine did not boot three times; console: {console.Output}");
        Assert.True(machine.Boots >= 3);
        Assert.False(machine.Exit.IsCompleted);
        machine.Stop();
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(MachineExitReason.Stopped, machine.Exit.Result.Reason);
        Assert.Equal(MachinePhase.Ended, machine.Phase);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void NoRebootEndsTheMachineAtTheReset(string accelerator)
    {
        var console = new CapturingConsole();
        using var machine = Create(ResettingGuest, accelerator, new MachineControllerOptions { Console = console, NoReboot = true });
        machine.Start();
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the machine did not end at the reset");
        Assert.Equal(MachineExitReason.Reset, machine.Exit.Result.Reason);
        Assert.Equal(1, machine.Boots);
        Assert.Equal(1, Poll.Occurrences(console.Output, "boot"));
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void PauseStopsTheGuestAndResumeLetsItGoOn(string accelerator)
    {
        using var machine = Create(CountingGuest, accelerator, new MachineControllerOptions { Console = new CapturingConsole() });
        machine.Start();
        var memory = machine.Current!.Memory;
        Poll.Until(() => memory.Read<uint>(Counter) > 0, () => "the guest never counted");
        machine.Pause();
        Assert.Equal(MachinePhase.Paused, machine.Phase);
        uint paused = memory.Read<uint>(Counter);
        Thread.Sleep(100);
        Assert.Equal(paused, memory.Read<uint>(Counter));
        machine.Resume();
        Assert.Equal(MachinePhase.Running, machine.Phase);
        Poll.Until(() => memory.Read<uint>(Counter) != paused, () => "the guest did not count after resume");
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void TheHostsResetBootsAgainEvenWithNoReboot(string accelerator)
    {
        using var machine = Create(CountingGuest, accelerator, new MachineControllerOptions { Console = new CapturingConsole(), NoReboot = true });
        machine.Start();
        var first = machine.Current!;
        machine.Reboot();
        Poll.Until(() => machine.Boots == 2 && machine.Current is { } m && !ReferenceEquals(m, first), () => "the machine did not boot again");
        Poll.Until(() => machine.Current!.Memory.Read<uint>(Counter) > 0, () => "the new boot does not run");
        Assert.Equal(MachinePhase.Running, machine.Phase);
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void CtrlAltDeleteReachesTheGuestsKeyboard(string accelerator)
    {
        // Waits for a byte from the keyboard and reports it through the debug-exit port.
        var image = MultibootFlatImage.Build(a =>
        {
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.@in(al, 0x64);
            a.test(al, 1);
            a.jz(wait);
            a.@in(al, 0x60);
            a.@out((byte)DebugExitPort, al);
            TinyGuests.EmitHaltForever(a);
        });
        using var machine = Create(image, accelerator, new MachineControllerOptions { Console = new CapturingConsole() });
        machine.Start();
        machine.SendCtrlAltDelete();
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the guest did not read a key");
        // Left Ctrl's make code: 0x1D in the translated set 1 the i8042 gives by default.
        Assert.Equal(MachineExitReason.DebugExit, machine.Exit.Result.Reason);
        Assert.Equal((0x1D << 1) | 1, machine.Exit.Result.ExitStatus);
    }

    [Fact]
    public void ActionsOutOfPhaseAreRefusedWithAReason()
    {
        using var machine = Create(CountingGuest, "emulate", new MachineControllerOptions { Console = new CapturingConsole() });
        Assert.Contains("has not started", Assert.Throws<MachinePhaseException>(machine.Pause).Message);
        Assert.Contains("has not started", Assert.Throws<MachinePhaseException>(machine.SendCtrlAltDelete).Message);
        machine.Configure(c => c with { VcpuCount = 2 });
        Assert.Equal(2, machine.Config.VcpuCount);
        machine.Start();
        Assert.Contains("is running", Assert.Throws<MachinePhaseException>(() => machine.Configure(c => c)).Message);
        Assert.Contains("is running", Assert.Throws<MachinePhaseException>(() => machine.Start()).Message);
        machine.Pause();
        Assert.Contains("is paused", Assert.Throws<MachinePhaseException>(machine.Shutdown).Message);
        machine.Stop();
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken), "a paused machine did not stop");
        Poll.Until(() => machine.Phase == MachinePhase.Ended, () => "the machine did not end");
        Assert.Contains("has ended", Assert.Throws<MachinePhaseException>(machine.Resume).Message);
    }

    [Fact]
    public void AFailedStartLeavesTheMachineNotStarted()
    {
        using var machine = new MachineController(new MachineConfig { Kernel = new KernelConfig("/nonexistent/kernel"), Accelerator = AcceleratorChoice.Emulate },
            new MachineControllerOptions { Console = new CapturingConsole() });
        Assert.ThrowsAny<Exception>(() => machine.Start());
        Assert.Equal(MachinePhase.NotStarted, machine.Phase);
    }

    private MachineController Create(byte[] image, string accelerator, MachineControllerOptions options)
    {
        KvmRequirement.EnsureFor(accelerator);
        if (options.Console is { } console) _consoles.Add(console);
        string path = Path.Combine(Path.GetTempPath(), $"kvmsharp-test-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, image);
        _files.Add(path);
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(path),
            MemorySize = 64UL << 20,
            DebugExitPort = DebugExitPort,
            Accelerator = accelerator == "kvm" ? AcceleratorChoice.Kvm : AcceleratorChoice.Emulate,
        };
        return new MachineController(config, options);
    }

    public void Dispose()
    {
        foreach (var file in _files) File.Delete(file);
        foreach (var console in _consoles) console.Dispose();
    }
}
