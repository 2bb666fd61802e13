using KvmSharp.Accelerators;
using KvmSharp.Devices;

namespace KvmSharp.Machine.Runtime;

/// <summary>A device's interrupt line wired to one GSI of the VM's interrupt controllers; only level changes reach the accelerator.</summary>
internal sealed class GsiInterruptLine(IVirtualMachine vm, uint gsi) : IInterruptLine
{
    private readonly Lock _lock = new();
    private bool _high;

    public void SetLevel(bool high)
    {
        lock (_lock)
        {
            if (_high == high) return;
            _high = high;
            vm.SetInterruptLine(gsi, high);
        }
    }
}
