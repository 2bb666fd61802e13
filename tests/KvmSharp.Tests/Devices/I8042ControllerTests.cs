using KvmSharp.Devices;
using KvmSharp.Devices.Legacy;

namespace KvmSharp.Tests.Devices;

public class I8042ControllerTests
{
    private readonly RecordingInterruptLine _kbdIrq = new();
    private readonly RecordingInterruptLine _auxIrq = new();
    private readonly RecordingMachineControl _machine = new();
    private readonly I8042Controller _i8042;

    public I8042ControllerTests() => _i8042 = new I8042Controller(_kbdIrq, _auxIrq, _machine);

    private void Command(byte command) => _i8042.CommandPort.Out(0, command);
    private void Data(byte value) => _i8042.DataPort.Out(0, value);
    private byte Status() => _i8042.CommandPort.In(0);

    private byte ReadOutput()
    {
        Assert.True((Status() & 0x01) != 0, "output buffer empty");
        return _i8042.DataPort.In(0);
    }

    private List<byte> Drain()
    {
        var bytes = new List<byte>();
        while ((Status() & 0x01) != 0) bytes.Add(_i8042.DataPort.In(0));
        return bytes;
    }

    [Fact]
    public void SelfTestAndInterfaceTestsPass()
    {
        Command(0xAA);
        Assert.Equal(0x55, ReadOutput());
        Command(0xAB);
        Assert.Equal(0x00, ReadOutput());
        Command(0xA9);
        Assert.Equal(0x00, ReadOutput());
        Assert.Equal(0x04, Status() & 0x04);   // system flag after self test
        Assert.Equal(0, Status() & 0x01);
    }

    [Fact]
    public void CommandByteReadsBackWhatWasWritten()
    {
        Command(0x60);
        Assert.Equal(0x08, Status() & 0x08);   // last write was a command
        Data(0x47);
        Command(0x20);
        Assert.Equal(0x47, ReadOutput());
    }

    [Fact]
    public void AuxAndKeyboardDisableCommandsSetCommandByteBits()
    {
        Command(0xA7);
        Command(0x20);
        Assert.Equal(0x20, ReadOutput() & 0x20);
        Command(0xA8);
        Command(0x20);
        Assert.Equal(0x00, ReadOutput() & 0x20);
        Command(0xAD);
        Command(0x20);
        Assert.Equal(0x10, ReadOutput() & 0x10);
        Command(0xAE);
        Command(0x20);
        Assert.Equal(0x00, ReadOutput() & 0x10);
    }

    [Fact]
    public void AuxLoopbackReturnsTheByteAsAuxDataWithIrq12()
    {
        Command(0x60);
        Data(0x03);                            // both interrupts on, no translation
        Command(0xD3);
        Data(0x5A);
        Assert.Equal(0x21, Status() & 0x21);   // output full, from aux
        Assert.True(_auxIrq.High);
        Assert.False(_kbdIrq.High);
        Assert.Equal(0x5A, ReadOutput());
        Assert.False(_auxIrq.High);
    }

    [Fact]
    public void PulseResetLineRequestsAMachineReset()
    {
        Command(0xFE);
        Assert.Equal([(StopRequest.Reset, 0)], _machine.Requests);
        Command(0xFF);                         // pulses no line
        Assert.Single(_machine.Requests);
    }

    [Fact]
    public void OutputPortWriteWithResetBitClearRequestsAReset()
    {
        Command(0xD1);
        Data(0x03);
        Assert.Empty(_machine.Requests);
        Command(0xD0);
        Assert.Equal(0x03, ReadOutput());
        Command(0xD1);
        Data(0x02);
        Assert.Equal([(StopRequest.Reset, 0)], _machine.Requests);
    }

    [Fact]
    public void KeyboardResetAnswersAckAndSelfTestPassedWithIrq1()
    {
        Data(0xFF);
        Assert.True(_kbdIrq.High);
        Assert.Equal(0xFA, ReadOutput());
        Assert.True(_kbdIrq.High);             // next byte loaded: a new edge
        Assert.Equal(0xAA, ReadOutput());
        Assert.False(_kbdIrq.High);
        Assert.Equal([true, false, true, false], _kbdIrq.Changes);
    }

    [Fact]
    public void KeyboardIdentifiesAsMf2TranslatedOrNot()
    {
        Data(0xF2);
        Assert.Equal([0xFA, 0xAB, 0x41], Drain());
        Command(0x60);
        Data(0x01);                            // translation off
        Data(0xF2);
        Assert.Equal([0xFA, 0xAB, 0x83], Drain());
    }

    [Fact]
    public void KeyboardCommandsWithParametersAreAcknowledged()
    {
        Data(0xED);
        Data(0x07);
        Data(0xF3);
        Data(0x20);
        Data(0xF4);
        Assert.Equal([0xFA, 0xFA, 0xFA, 0xFA, 0xFA], Drain());
        Data(0xF0);
        Data(0x00);
        Assert.Equal([0xFA, 0xFA, 0x02], Drain());   // ACK for the command, ACK for the parameter, the set
    }

    [Fact]
    public void WriteKeyboardBufferLoopsBackAsKeyboardData()
    {
        Command(0xD2);
        Data(0x99);
        Assert.Equal(0x01, Status() & 0x21);
        Assert.Equal(0x99, ReadOutput());
    }

    [Fact]
    public void MouseAnswersResetAndIdentifyThroughD4()
    {
        Command(0xA8);
        Command(0xD4);
        Data(0xFF);
        Assert.Equal([0xFA, 0xAA, 0x00], Drain());
        Command(0xD4);
        Data(0xF2);
        Assert.Equal([0xFA, 0x00], Drain());
    }

    [Fact]
    public void CtrlAltDeleteArrivesAsSet1ScancodesWhenTranslating()
    {
        Assert.True(_i8042.InjectCtrlAltDelete());
        Assert.True(_kbdIrq.High);
        Assert.Equal([0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D], Drain());
    }

    [Fact]
    public void CtrlAltDeleteArrivesAsSet2ScancodesWithoutTranslation()
    {
        Command(0x60);
        Data(0x01);
        Assert.True(_i8042.InjectCtrlAltDelete());
        Assert.Equal([0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14], Drain());
    }

    [Fact]
    public void DisabledKeyboardHoldsItsDataUntilEnabled()
    {
        Command(0xAD);
        _i8042.InjectCtrlAltDelete();
        Assert.Equal(0, Status() & 0x01);
        Command(0xAE);
        Assert.Equal(0x1D, ReadOutput());
    }

    [Fact]
    public void KeyboardInterruptFollowsTheCommandByte()
    {
        Command(0x60);
        Data(0x44);                            // interrupts off
        Data(0xF4);
        Assert.False(_kbdIrq.High);
        Command(0x60);
        Data(0x45);
        Assert.True(_kbdIrq.High);             // a pending byte raises IRQ 1 once enabled
    }
}
