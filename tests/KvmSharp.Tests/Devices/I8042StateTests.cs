using KvmSharp.Devices.Legacy;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices;

public class I8042StateTests
{
    private static I8042Controller Create(RecordingInterruptLine? keyboard = null, RecordingInterruptLine? aux = null) =>
        new(keyboard ?? new(), aux ?? new(), new RecordingMachineControl());

    private static byte Status(I8042Controller c) => c.CommandPort.In(0);

    private static List<byte> Drain(I8042Controller c)
    {
        var bytes = new List<byte>();
        while ((Status(c) & 0x01) != 0) bytes.Add(c.DataPort.In(0));
        return bytes;
    }

    /// <summary>Mouse enabled with its interrupt, keyboard identify answered but not read, a command byte write pending.</summary>
    private static I8042Controller Busy(RecordingInterruptLine keyboard)
    {
        var c = Create(keyboard);
        c.DataPort.Out(0, 0xF0);                      // keyboard: scancode set…
        c.DataPort.Out(0, 0x03);                      // …3
        c.DataPort.Out(0, 0xF2);                      // keyboard: identify
        c.CommandPort.Out(0, 0xA8);                   // enable aux
        c.CommandPort.Out(0, 0xD4);
        c.DataPort.Out(0, 0xE8);                      // mouse: set resolution…
        c.CommandPort.Out(0, 0xD4);
        c.DataPort.Out(0, 0x03);                      // …to 8 counts/mm
        c.CommandPort.Out(0, 0x60);                   // write command byte: data follows
        return c;
    }

    [Fact]
    public void RestoredControllerRaisesIrq1AndAnswersWhatTheOriginalWould()
    {
        var irq = new RecordingInterruptLine();
        var original = Busy(irq);
        Assert.True(irq.High);
        var saved = StateFuzz.RoundTrip(original.SaveState());

        var restoredIrq = new RecordingInterruptLine();
        var restored = Create(restoredIrq);
        restored.RestoreState(saved);
        Assert.True(restoredIrq.High);

        // The pending "write command byte" takes the next data byte on both.
        foreach (var c in new[] { original, restored }) c.DataPort.Out(0, 0x47);   // kbd + aux interrupts, translate, POST
        Assert.Equal(Drain(original), Drain(restored));
        foreach (var c in new[] { original, restored })
        {
            c.CommandPort.Out(0, 0x20);
            c.CommandPort.Out(0, 0xD4);
            c.DataPort.Out(0, 0xE9);                  // mouse status: shows the resolution
            c.DataPort.Out(0, 0xF0);
            c.DataPort.Out(0, 0x00);                  // keyboard: which scancode set?
        }
        var answers = Drain(restored);
        Assert.Equal(Drain(original), answers);
        Assert.Contains((byte)0x47, answers);
        Assert.Contains((byte)0x03, answers);
    }

    [Fact]
    public void CtrlAltDeleteWhilePausedRaisesNothingUntilResume()
    {
        var irq = new RecordingInterruptLine();
        var c = Create(irq);
        c.Pause();
        Assert.True(c.InjectCtrlAltDelete());
        Assert.Empty(irq.Changes);
        var saved = c.SaveState();
        Assert.False(saved.OutputFull);
        Assert.Equal(8, saved.Keyboard.Output.Length);
        c.Resume();
        Assert.True(irq.High);
        Assert.Equal([0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D], Drain(c));
    }

    public static TheoryData<string, I8042State> HostileStates()
    {
        var good = Busy(new RecordingInterruptLine()).SaveState();
        return new()
        {
            { "i8042.Ram", good with { Ram = new byte[31] } },
            { "i8042.PendingCommand", good with { PendingCommand = 0xAA } },
            { "i8042.ControllerOutput", good with { ControllerOutput = [0] } },
            { "i8042.ControllerOutput", good with { ControllerOutput = [2, 0x55] } },
            { "i8042.ControllerOutput", good with { ControllerOutput = new byte[18] } },
            { "i8042.Keyboard", good with { Keyboard = null! } },
            { "i8042.Keyboard.ScanCodeSet", good with { Keyboard = good.Keyboard with { ScanCodeSet = 4 } } },
            { "i8042.Keyboard.PendingCommand", good with { Keyboard = good.Keyboard with { PendingCommand = 0xFF } } },
            { "i8042.Keyboard.Leds", good with { Keyboard = good.Keyboard with { Leds = 8 } } },
            { "i8042.Keyboard.Output", good with { Keyboard = good.Keyboard with { Output = new byte[17] } } },
            { "i8042.Mouse.Resolution", good with { Mouse = good.Mouse with { Resolution = 4 } } },
            { "i8042.Mouse.PendingCommand", good with { Mouse = good.Mouse with { PendingCommand = 0xE9 } } },
        };
    }

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheField(string field, I8042State state)
    {
        var c = Create();
        string before = StateFuzz.Json(c.SaveState());
        var e = Assert.Throws<StateException>(() => c.RestoreState(state));
        Assert.StartsWith(field + ":", e.Message);
        Assert.Equal(before, StateFuzz.Json(c.SaveState()));
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException() =>
        Assert.True(StateFuzz.Run(() => Create(), Busy(new RecordingInterruptLine()).SaveState(), seed: 8042) > 0);
}
