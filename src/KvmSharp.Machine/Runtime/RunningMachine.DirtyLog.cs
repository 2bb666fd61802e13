using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

// Live migration's dirty-page log: what the vCPUs write (the accelerator's log) and what devices write
// (GuestMemory's write log), collected together into one bitmap. All three calls need the machine paused: the
// software CPU changes every vCPU's TLB on start and collect, and a collect is exact only while device threads
// are quiesced (their marks land before their writes).
public sealed partial class RunningMachine
{
    private DirtyPageBitmap? _deviceWriteLog;

    /// <summary>Starts logging the guest's and the devices' writes. The machine must be paused.</summary>
    public void StartDirtyLog()
    {
        if (!IsPaused) throw new InvalidOperationException("the machine must be paused to start its dirty log");
        _deviceWriteLog ??= new DirtyPageBitmap(_memory.Regions);
        _vm.StartDirtyLog();
        _memory.StartWriteLog(_deviceWriteLog);
    }

    /// <summary>ORs every page written since the start or the last collect into <paramref name="into"/> and clears the logs. Paused only.</summary>
    public void CollectDirtyPages(DirtyPageBitmap into)
    {
        if (!IsPaused) throw new InvalidOperationException("the machine must be paused to collect its dirty log");
        var deviceLog = _deviceWriteLog ?? throw new InvalidOperationException("dirty-page logging is not on: call StartDirtyLog first");
        _vm.CollectDirtyPages(into);
        into.Or(deviceLog);
        deviceLog.Clear();
    }

    /// <summary>Stops both logs (safe when they are off); what was not collected is dropped.</summary>
    public void StopDirtyLog()
    {
        _memory.StopWriteLog();
        if (_deviceWriteLog is null) return;
        _deviceWriteLog = null;
        _vm.StopDirtyLog();
    }

    /// <summary>Hands every writable disk over to another process (live migration's last step): flushed, unlocked.</summary>
    internal void ReleaseDiskLocks()
    {
        foreach (var disk in Pci.Devices<Devices.Virtio.Block.VirtioBlockDevice>()) disk.ReleaseImageLock();
    }

    /// <summary>Takes the disks back after a handover that did not complete.</summary>
    internal void ReacquireDiskLocks()
    {
        foreach (var disk in Pci.Devices<Devices.Virtio.Block.VirtioBlockDevice>()) disk.ReacquireImageLock();
    }
}
