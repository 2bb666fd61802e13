using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>The hardware-assisted accelerator: Linux KVM through /dev/kvm.</summary>
public sealed class KvmAccelerator : IAccelerator
{
    private readonly string _devicePath;
    private readonly Action<string> _notice;

    /// <param name="devicePath">The KVM device node.</param>
    /// <param name="notice">Where one-line notices go (a missing fast path); stderr by default.</param>
    public KvmAccelerator(string devicePath = KvmSystem.DevicePath, Action<string>? notice = null)
    {
        _devicePath = devicePath;
        _notice = line => (notice ?? Console.Error.WriteLine)($"kvmsharp: {line}");
    }

    public string Name => "kvm";

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, VirtualMachineOptions options)
    {
        if (options.InstructionCountShift is not null)
            throw new AcceleratorException("--icount needs the software CPU (--accel emulate): KVM runs guests in real time");
        // Each VM owns its own /dev/kvm descriptor, so VMs are independent and close everything they opened.
        var system = KvmSystem.Open(_devicePath);
        try
        {
            return new KvmVirtualMachine(system, memory, options, _notice);
        }
        catch
        {
            system.Dispose();
            throw;
        }
    }

    public void Dispose() { }
}
