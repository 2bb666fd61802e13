using KvmSharp.Accelerators.Emulate;
using KvmSharp.Devices.Virtio;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// The virtio-pci transport under Linux's own virtio_pci driver, independent of any real device: a test
/// entropy device that answers every request with a known pattern, behind the transport on the machine's
/// PCI bus. Linux must find it through ACPI and config space, negotiate, set up the queue, use MSI-X,
/// and /dev/hwrng must read back the pattern (so the bytes went guest → queue → device → guest).
/// </summary>
public class VirtioTransportGuestTests(DebianKernelFixture kernel) : IClassFixture<DebianKernelFixture>
{
    [Fact]
    public void LinuxDrivesATestDeviceThroughTheTransport()
    {
        var console = new CapturingConsole();
        var notices = new List<string>();
        var device = new PatternEntropyDevice();
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(kernel.Guest.KernelPath, kernel.Guest.InitrdPath,
                DefaultGuestCommandLine.Exec("head -c 16 /dev/hwrng | od -An -tx1; grep -c virtio /proc/interrupts")),
            InstructionCountShift = 0,
            Console = ConsoleConfig.Stdio,
        };
        using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(notices.Add))
            .WithNotices(notices.Add).WithVirtioDevice("test-rng", () => device).Build();
        machine.Start();
        bool ended = machine.Exit.Wait(TimeSpan.FromMinutes(5), TestContext.Current.CancellationToken);
        machine.Stop();
        string output = console.Output;
        Assert.True(ended, $"the guest did not power off within 5 minutes; output:\n{output}\nnotices: {string.Join("; ", notices)}");
        Assert.Contains(" a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5 a5", output);
        Assert.True(device.Requests > 0);
        // MSI-X: the driver asked for per-queue vectors, so /proc/interrupts lists virtio0-config and virtio0-requests.
        Assert.Contains("\n2", output);
        Assert.DoesNotContain(notices, n => n.Contains("needs a reset", StringComparison.Ordinal));
    }

    /// <summary>An entropy device (virtio 1.2 §5.4) that fills each request with 0xA5; one queue, served on its own loop.</summary>
    private sealed class PatternEntropyDevice : IVirtioDevice
    {
        private DeviceEventLoop? _loop;
        public int Requests;

        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
        public ulong DeviceFeatures => 0;
        public IReadOnlyList<ushort> QueueSizes { get; } = [64];
        public int ConfigSize => 0;
        public void ReadConfig(int offset, Span<byte> data) { }
        public void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

        public void Activate(VirtioActivation activation)
        {
            _loop = new DeviceEventLoop("test-rng", e => activation.Interrupts.MarkNeedsReset(e.Message));
            var queue = activation.Queues[0];
            var notifier = activation.Notifiers[0];
            _loop.Watch(notifier.Handle, KvmSharp.Native.Libc.LibcConstants.POLLIN, _ =>
            {
                notifier.Drain();
                while (queue.TryPopAvailable(out var chain))
                {
                    uint written = 0;
                    while (chain.TryNext(out var d))
                        if (d.IsWritable)
                        {
                            activation.Memory.GetSpan(d.Address, (int)Math.Min(d.Length, 4096)).Fill(0xA5);
                            written += Math.Min(d.Length, 4096);
                        }
                    queue.AddUsed(chain.Head, written);
                    Interlocked.Increment(ref Requests);
                }
                activation.NotifyUsed(0);
            });
            _loop.Start();
        }

        public void Reset()
        {
            _loop?.Dispose();
            _loop = null;
        }

        public void Dispose() => Reset();
    }
}
