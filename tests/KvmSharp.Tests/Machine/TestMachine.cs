using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Kvm;

namespace KvmSharp.Tests.Machine;

/// <summary>Builds a machine (KVM or the software CPU) around a guest image written to a temporary file, with a capturing console.</summary>
internal sealed class TestMachine : IDisposable
{
    private readonly string _imagePath;

    public TestMachine(byte[] image, Func<MachineConfig, MachineConfig>? configure = null, Action<MachineBuilder>? build = null,
        string accelerator = "kvm")
    {
        KvmRequirement.EnsureFor(accelerator);
        _imagePath = Path.Combine(Path.GetTempPath(), $"kvmsharp-test-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(_imagePath, image);
        var config = new MachineConfig { Kernel = new KernelConfig(_imagePath), MemorySize = 64UL << 20, DebugExitPort = 0xF4 };
        if (configure is not null) config = configure(config);
        IAccelerator backend = accelerator == "kvm" ? new KvmAccelerator() : new EmulatorAccelerator(Notices.Add);
        var builder = new MachineBuilder(config).WithConsole(Console).WithAccelerator(backend);
        build?.Invoke(builder);
        Machine = builder.Build();
    }

    public CapturingConsole Console { get; } = new();

    /// <summary>One-line notices from the accelerator (e.g. the software CPU's unimplemented instructions).</summary>
    public List<string> Notices { get; } = [];

    public RunningMachine Machine { get; }

    /// <summary>Starts the machine and waits for its run to end (30 s at most: these guests finish in milliseconds).</summary>
    public MachineExit RunToEnd()
    {
        Machine.Start();
        Assert.True(Machine.Exit.Wait(TimeSpan.FromSeconds(30)), $"the guest did not finish; console so far: {Console.Output}");
        return Machine.Exit.Result;
    }

    public void Dispose()
    {
        Machine.Dispose();
        File.Delete(_imagePath);
    }
}
