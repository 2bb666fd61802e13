using KvmSharp.Devices.Bus;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Tests.Machine;

/// <summary>
/// A daemon creates thousands of machines: disposing one must give back every fd and mapping, even when a
/// vCPU thread is stuck in a device. These tests count the process's fds and mappings, so they run alone.
/// </summary>
[Collection(nameof(ResourceCountingCollection))]
public sealed class RunningMachineDisposeTests
{
    private const ushort BlockingPort = 0x510;

    [Fact]
    public void FiftyMachinesCreatedAndDisposedLeaveNoFdOrMappingBehind()
    {
        // One machine first: the runtime's own lazily created fds and mappings are not ours to count.
        RunAndDispose();
        var before = ProcessResources.Take();
        for (int i = 0; i < 50; i++) Assert.True(RunAndDispose().IsReleased, $"machine {i}: guest memory still mapped after Dispose");
        var after = ProcessResources.Take();
        Assert.True(after.Fds <= before.Fds, $"fds grew from {before.Fds} to {after.Fds}");
        // The runtime maps and unmaps on its own (JIT, thread stacks, GC); 50 leaked machines would be 50+.
        Assert.True(after.Mappings <= before.Mappings + 30, $"mappings grew from {before.Mappings} to {after.Mappings}");

        static KvmSharp.Memory.GuestMemory RunAndDispose()
        {
            using var vm = new TestMachine(TinyGuests.Hello("hi\n", 0xF4, 0), accelerator: "emulate");
            vm.RunToEnd();
            return vm.Machine.Memory;
        }
    }

    [Fact]
    public void AVcpuStuckInADeviceReleasesTheMachineWhenItComesBack()
    {
        using var warmUp = new TestMachine(TinyGuests.Hello("hi\n", 0xF4, 0), accelerator: "emulate");
        warmUp.RunToEnd();
        var before = ProcessResources.Take();

        var device = new BlockingDevice();
        var image = MultibootFlatImage.Build(a =>
        {
            a.mov(Iced.Intel.AssemblerRegisters.dx, BlockingPort);
            a.@in(Iced.Intel.AssemblerRegisters.al, Iced.Intel.AssemblerRegisters.dx);
            TinyGuests.EmitHaltForever(a);
        });
        var vm = new TestMachine(image, build: b => b.WithPortDevice(BlockingPort, 1, device), accelerator: "emulate");
        vm.Machine.Start();
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the vCPU never reached the device");

        var disposing = Task.Run(vm.Dispose, TestContext.Current.CancellationToken);
        Assert.True(disposing.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "Dispose waited for a stuck vCPU without end");
        Assert.True(vm.Machine.Exit.IsCompleted);
        Assert.False(vm.Machine.Memory.IsReleased);   // the stuck thread may still touch guest memory

        // The device call returns: the vCPU thread ends and gives back the memory, the VM and its fds.
        device.Release.Set();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        ProcessResources after;
        while ((after = ProcessResources.Take()).Fds > before.Fds || !vm.Machine.Memory.IsReleased)
        {
            Assert.True(DateTime.UtcNow < deadline, $"resources not released: fds {before.Fds} -> {after.Fds}, guest memory released: {vm.Machine.Memory.IsReleased}");
            Thread.Sleep(10);
        }
    }

    private sealed class BlockingDevice : IBusDevice
    {
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Release { get; } = new();

        public void Read(ulong offset, Span<byte> data)
        {
            Entered.Set();
            Release.Wait();
            data.Fill(0);
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }
}

/// <summary>Tests that count the process's fds and mappings run with nothing else running.</summary>
[CollectionDefinition(nameof(ResourceCountingCollection), DisableParallelization = true)]
public sealed class ResourceCountingCollection;

/// <summary>Open fds and memory mappings of this process.</summary>
internal readonly record struct ProcessResources(int Fds, int Mappings)
{
    public static ProcessResources Take()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return new(Directory.GetFiles("/proc/self/fd").Length, File.ReadAllLines("/proc/self/maps").Length);
    }

}
