using System.Text;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices.Virtio.Console;

public class VirtioConsoleStateTests
{
    private const int Receive = 0, Transmit = 1;

    private sealed class NullOutput : ISerialOutput
    {
        public void Write(ReadOnlySpan<byte> bytes) { }
    }

    private static string Received(VirtioDeviceHarness h, ushort position, ushort head)
    {
        var (id, length) = h.Drivers[Receive].UsedElement(position);
        Assert.Equal(head, id);
        var bytes = new byte[length];
        h.Memory.Read(h.Drivers[Receive].BufferAddress(head), bytes);
        return Encoding.ASCII.GetString(bytes);
    }

    [Fact]
    public void InputNotYetDeliveredTravelsWithTheStateAndReachesTheGuestAfterRestore()
    {
        var original = new VirtioConsoleDevice(new NullOutput(), _ => { });
        Assert.Equal(5, original.EnqueueInput("hello"u8));
        var saved = StateFuzz.RoundTrip(original.SaveState());
        original.Dispose();

        var device = new VirtioConsoleDevice(new NullOutput(), _ => { });
        device.RestoreState(saved);
        Assert.Equal(5, device.PendingInput);
        using var h = new VirtioDeviceHarness(device, VirtioFeatures.Version1);
        ushort head = h.Drivers[Receive].AddChain((64, true));
        h.Drivers[Receive].Publish(head);
        h.Activate();
        h.WaitForUsed(Receive, 1);
        Assert.Equal("hello", Received(h, 0, head));
    }

    [Fact]
    public void InputWhilePausedWaitsInTheBufferWithoutTouchingGuestMemory()
    {
        var device = new VirtioConsoleDevice(new NullOutput(), _ => { });
        using var h = new VirtioDeviceHarness(device, VirtioFeatures.Version1);
        ushort head = h.Drivers[Receive].AddChain((64, true));
        h.Drivers[Receive].Publish(head);
        h.Activate();
        device.Pause();
        var log = new DirtyPageBitmap(h.Memory.Regions);
        h.Memory.StartWriteLog(log);
        Assert.Equal(3, device.EnqueueInput("abc"u8));
        Thread.Sleep(100);   // time for a running device to have delivered it
        Assert.Equal(0, log.Count());
        Assert.Equal(0, h.Drivers[Receive].UsedIdx);
        Assert.Equal(3, device.SaveState().PendingInput.Length);

        device.Resume();
        h.WaitForUsed(Receive, 1);
        Assert.Equal("abc", Received(h, 0, head));
        h.Memory.StopWriteLog();
    }

    [Fact]
    public void TooMuchPendingInputIsRefused()
    {
        var device = new VirtioConsoleDevice(new NullOutput(), _ => { });
        var e = Assert.Throws<StateException>(() => device.RestoreState(new VirtioConsoleState { PendingInput = new byte[VirtioConsoleDevice.HostInputBufferSize + 1] }));
        Assert.StartsWith("console.PendingInput:", e.Message);
        Assert.Throws<StateException>(() => device.RestoreState(new VirtioConsoleState { PendingInput = null! }));
        Assert.Equal(0, device.PendingInput);
        device.Dispose();
    }
}
