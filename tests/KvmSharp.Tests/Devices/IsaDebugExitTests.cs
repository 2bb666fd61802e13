using KvmSharp.Devices;
using KvmSharp.Devices.Legacy;

namespace KvmSharp.Tests.Devices;

public class IsaDebugExitTests
{
    [Fact]
    public void WriteRequestsExitWithShiftedStatus()
    {
        var machine = new RecordingMachineControl();
        var exit = new IsaDebugExit(machine);
        exit.Out(0, 0x10);
        exit.Write(0, [0x34, 0x12, 0x00, 0x80]);
        Assert.Equal([(StopRequest.DebugExit, 0x21), (StopRequest.DebugExit, unchecked((int)0x00002469))], machine.Requests);
        Assert.Equal(0xFF, exit.In(0));
    }
}
