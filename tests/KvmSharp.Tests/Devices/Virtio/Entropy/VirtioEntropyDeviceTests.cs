using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Entropy;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio.Entropy;

public class VirtioEntropyDeviceTests
{
    [Fact]
    public void FillsEveryWritableBufferWithHostBytes()
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        h.Activate();
        var q = h.Drivers[0];
        ushort head = q.AddChain((32, true), (64, true));
        h.Submit(0, head);
        h.WaitForUsed(0, 1);

        Assert.Equal(((uint)head, 96u), q.UsedElement(0));
        var first = h.Memory.GetSpan(q.BufferAddress(head), 32).ToArray();
        var second = h.Memory.GetSpan(q.BufferAddress((ushort)(head + 1)), 64).ToArray();
        // Zeroed RAM before; 256+ random bits all zero, or two equal 32-byte runs, would mean nothing was written.
        Assert.Contains(first, b => b != 0);
        Assert.Contains(second, b => b != 0);
        Assert.NotEqual(first, second.AsSpan(0, 32).ToArray());
        Assert.Equal(96, ((VirtioEntropyDevice)h.Device).BytesProvided);
        Assert.True(h.Interrupts.QueueSignals(0) >= 1);
    }

    [Fact]
    public void ARequestGetsAtMost64KiBAndSaysSo()
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        h.Activate();
        var q = h.Drivers[0];
        ushort head = q.AddChain((128 * 1024, true));
        h.Submit(0, head);
        h.WaitForUsed(0, 1);

        Assert.Equal((uint)VirtioEntropyDevice.MaxBytesPerRequest, q.UsedElement(0).Length);
        var tail = h.Memory.GetSpan(q.BufferAddress(head) + VirtioEntropyDevice.MaxBytesPerRequest, 64 * 1024);
        Assert.True(tail.IndexOfAnyExcept((byte)0) < 0, "bytes past the reported length were written");
    }

    [Fact]
    public void AChainWithAReadableBufferGetsNothing()
    {
        var notices = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var device = new VirtioEntropyDevice(notices.Enqueue);
        using var h = new VirtioDeviceHarness(device);
        h.Activate();
        var q = h.Drivers[0];
        ushort head = q.AddChain((16, false), (64, true));
        q.Publish(head);
        h.Submit(0, q.AddChain((16, false), (64, true)));
        h.WaitForUsed(0, 2);

        Assert.Equal(0u, q.UsedElement(0).Length);
        Assert.True(h.Memory.GetSpan(q.BufferAddress((ushort)(head + 1)), 64).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(2, device.RejectedRequests);
        Assert.StartsWith("virtio-rng: a request with a device-readable buffer", Assert.Single(notices));
        Assert.Empty(h.Interrupts.NeedsReset);
    }

    [Fact]
    public void ChainsPublishedBeforeDriverOkAreServedAtActivation()
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        var q = h.Drivers[0];
        q.Publish(q.AddChain((8, true)));
        q.Publish(q.AddChain((8, true)));
        h.Activate();
        h.WaitForUsed(0, 2);
        Assert.Equal(8u, q.UsedElement(1).Length);
    }

    [Fact]
    public void ADescriptorLoopMarksTheDeviceBrokenAndItStopsServing()
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        h.Activate();
        var q = h.Drivers[0];
        q.SetDescriptor(0, BufferBase, 8, (ushort)(Flags.Write | Flags.Next), 1);
        q.SetDescriptor(1, BufferBase, 8, (ushort)(Flags.Write | Flags.Next), 0);
        h.Submit(0, 0);
        h.WaitUntil(() => !h.Interrupts.NeedsReset.IsEmpty, "NEEDS_RESET");
        Assert.Contains("loop", h.Interrupts.NeedsReset.Single());

        // A well-formed chain after the failure is not served until reset.
        q.SetDescriptor(2, BufferBase, 8, Flags.Write);
        h.Submit(0, 2);
        h.Device.Reset();   // joins the loop: whatever it was going to do, it has done
        Assert.Equal(0, q.UsedIdx);
        Assert.Single(h.Interrupts.NeedsReset);
    }

    [Theory]
    [InlineData(0xFFFF_FFFF_FFFF_F000ul, 0x2000u)]   // address + length overflows
    [InlineData(0x3F_F000ul, 0x2000u)]                // runs past the end of RAM (4 MiB for one queue)
    public void ABufferOutsideRamMarksTheDeviceBroken(ulong address, uint length)
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        h.Activate();
        h.Drivers[0].SetDescriptor(0, address, length, Flags.Write);
        h.Submit(0, 0);
        h.WaitUntil(() => !h.Interrupts.NeedsReset.IsEmpty, "NEEDS_RESET");
        Assert.Contains("outside guest RAM", h.Interrupts.NeedsReset.Single());
    }

    [Fact]
    public void ResetThenActivateServesAgain()
    {
        using var h = new VirtioDeviceHarness(new VirtioEntropyDevice(_ => { }));
        h.Activate();
        h.Device.Reset();
        h.Activate();
        var q = h.Drivers[0];
        h.Submit(0, q.AddChain((4, true)));
        h.WaitForUsed(0, 1);
        Assert.Equal(4u, q.UsedElement(0).Length);
    }

    [Fact]
    public void DeclaresTheEntropyDevice()
    {
        var device = new VirtioEntropyDevice(_ => { });
        Assert.Equal(VirtioDeviceType.Entropy, device.DeviceType);
        Assert.Equal(4, (int)device.DeviceType);   // virtio 1.2 §5: entropy source is device ID 4
        Assert.Single(device.QueueSizes);
        Assert.Equal(0, device.ConfigSize);
    }
}
