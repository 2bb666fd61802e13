using KvmSharp.Accelerators;
using KvmSharp.Devices.Bus;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// The thread of one vCPU: runs it, dispatches its exits to the port and MMIO buses, and honours
/// pause and stop requests from <see cref="MachineRunState"/>. The exit path allocates nothing.
/// </summary>
internal sealed class VcpuRunner
{
    private readonly IVcpu _vcpu;
    private readonly IoBus _ports;
    private readonly IoBus _mmio;
    private readonly MachineRunState _state;
    private readonly Thread _thread;

    public VcpuRunner(IVcpu vcpu, IoBus ports, IoBus mmio, MachineRunState state)
    {
        _vcpu = vcpu;
        _ports = ports;
        _mmio = mmio;
        _state = state;
        _thread = new Thread(ThreadMain) { Name = $"vcpu{vcpu.Index}", IsBackground = true };
    }

    public IVcpu Vcpu => _vcpu;

    public void Start() => _thread.Start();

    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    private void ThreadMain()
    {
        try
        {
            using var attachment = _vcpu.AttachToCurrentThread();
            _state.VcpuStarted(_vcpu);
            while (!_state.StopRequested)
            {
                if (_state.PauseRequested)
                {
                    _state.WaitWhilePaused();
                    continue;
                }
                HandleExit(_vcpu.Run());
            }
        }
        catch (Exception e)
        {
            // A device or accelerator bug must end this VM, not the host process.
            _state.Fail($"vCPU {_vcpu.Index} stopped: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            _state.VcpuStopped();
        }
    }

    private void HandleExit(VcpuExit exit)
    {
        switch (exit.Reason)
        {
            case VcpuExitReason.IoOut:
                for (int i = 0; i < exit.Count; i++)
                    _ports.Write(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VcpuExitReason.IoIn:
                for (int i = 0; i < exit.Count; i++)
                    _ports.Read(exit.Address, exit.Data.Slice(i * exit.Size, exit.Size));
                break;
            case VcpuExitReason.MmioWrite:
                _mmio.Write(exit.Address, exit.Data);
                break;
            case VcpuExitReason.MmioRead:
                _mmio.Read(exit.Address, exit.Data);
                break;
            case VcpuExitReason.Kicked:
                break;
            case VcpuExitReason.Halt:
                // Only an accelerator without an in-kernel LAPIC reports HLT; wait for something to change.
                Thread.Sleep(1);
                break;
            case VcpuExitReason.Shutdown:
                _state.Finish(MachineExitReason.Reset, 0, "the guest shut down the CPU (triple fault or shutdown request)");
                break;
            case VcpuExitReason.Reset:
                _state.Finish(MachineExitReason.Reset, 0, "the guest asked for a reset");
                break;
            case VcpuExitReason.Failed:
                _state.Fail($"vCPU {_vcpu.Index}: {exit.Message}");
                break;
        }
    }
}
