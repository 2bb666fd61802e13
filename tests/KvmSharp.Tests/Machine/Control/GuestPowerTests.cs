using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Machine.Control;

/// <summary>
/// The default guest on the software CPU behaves as a PC does: the ACPI power button shuts it down, Ctrl-Alt-Delete
/// and the guest's own reboot boot it again.
/// </summary>
public sealed class GuestPowerTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>
{
    private const string Marker = "guest-is-up";

    [Fact]
    public void ThePowerButtonShutsTheGuestDown()
    {
        using var console = new CapturingConsole();
        using var machine = Boot($"echo {Marker}; sleep 600", console);
        Poll.Until(() => console.Output.Contains(Marker), () => $"the guest did not come up: {console.Output}", seconds: 180);
        machine.Shutdown();
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken), $"the guest ignored the power button: {console.Output}");
        Assert.Equal(MachineExitReason.PowerOff, machine.Exit.Result.Reason);
    }

    [Fact]
    public void CtrlAltDeleteRebootsTheGuest()
    {
        using var console = new CapturingConsole();
        using var machine = Boot($"echo {Marker}; sleep 600", console);
        Poll.Until(() => console.Output.Contains(Marker), () => $"the guest did not come up: {console.Output}", seconds: 180);
        machine.SendCtrlAltDelete();
        Poll.Until(() => Poll.Occurrences(console.Output, Marker) >= 2, () => $"the guest did not boot again: {console.Output}", seconds: 180);
        Assert.Equal(2, machine.Boots);
    }

    [Fact]
    public void TheGuestsOwnRebootBootsTheMachineAgain()
    {
        using var console = new CapturingConsole();
        using var machine = Boot($"echo {Marker}; reboot -f", console);
        Poll.Until(() => Poll.Occurrences(console.Output, Marker) >= 2, () => $"the guest did not boot again: {console.Output}", seconds: 180);
        Assert.True(machine.Boots >= 2);
        Assert.False(machine.Exit.IsCompleted);
    }

    private MachineController Boot(string command, CapturingConsole console)
    {
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(guest.Guest.KernelPath, guest.Guest.InitrdPath, DefaultGuestCommandLine.Exec(command)),
            Accelerator = AcceleratorChoice.Emulate,
        };
        var machine = new MachineController(config, new MachineControllerOptions { Console = console });
        machine.Start();
        return machine;
    }

}
