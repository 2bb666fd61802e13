using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

// Dirty-page logging for live migration, through the software TLB (as QEMU's TCG does it with its TLB_NOTDIRTY
// entries): while the log is on, the MMU marks a page when it creates a writable translation for it, and marks
// every write itself where it caches no translation (paging off). Taking the log clears it and makes every
// cached translation read-only for writes, so the next write to each page walks again and marks again.
//
// Start and collect change the vCPUs' TLBs from the calling thread: they need every vCPU parked (outside Run),
// which is also what makes a collected log exact. Writes that do not go through a CPU (devices, the machine
// layer's own writes) are GuestMemory's write log, not this one; kvmclock's writes are marked here.
public sealed partial class EmulatedVirtualMachine
{
    /// <summary>Starts logging (a no-op if on). Every vCPU must be parked (outside <see cref="EmulatedVcpu.Run"/>).</summary>
    public void StartDirtyLog()
    {
        var vcpus = ParkedVcpus(nameof(StartDirtyLog));
        if (Physical.DirtyLog is not null) return;
        Physical.DirtyLog = new DirtyPageBitmap(Memory.Regions);
        foreach (var vcpu in vcpus) vcpu.DropWriteAccess();
    }

    /// <summary>
    /// ORs the pages the vCPUs wrote since the last collect (or the start) into <paramref name="into"/>, which has
    /// this VM's region layout, and clears the log. Every vCPU must be parked.
    /// </summary>
    public void CollectDirtyPages(DirtyPageBitmap into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var vcpus = ParkedVcpus(nameof(CollectDirtyPages));
        var log = Physical.DirtyLog ?? throw new InvalidOperationException("dirty-page logging is not on: call StartDirtyLog first");
        if (into.RegionCount != log.RegionCount)
            throw new ArgumentException($"the bitmap has {into.RegionCount} regions, guest memory {log.RegionCount}", nameof(into));
        for (int r = 0; r < log.RegionCount; r++)
        {
            if (into.PageCount(r) != log.PageCount(r))
                throw new ArgumentException($"region {r} of the bitmap has {into.PageCount(r)} pages, guest memory {log.PageCount(r)}", nameof(into));
            var source = log.RegionWords(r);
            var target = into.RegionWords(r);
            for (int w = 0; w < source.Length; w++)
            {
                if (source[w] == 0) continue;
                ulong bits = Interlocked.Exchange(ref source[w], 0);
                Interlocked.Or(ref target[w], bits);
            }
        }
        foreach (var vcpu in vcpus) vcpu.DropWriteAccess();
    }

    /// <summary>Stops logging; what was not collected is dropped.</summary>
    public void StopDirtyLog() => Physical.DirtyLog = null;

    private EmulatedVcpu[] ParkedVcpus(string operation)
    {
        EmulatedVcpu[] vcpus;
        lock (_vcpus) vcpus = [.. _vcpus];
        foreach (var vcpu in vcpus)
            if (vcpu.IsRunning)
                throw new InvalidOperationException($"{operation} needs every vCPU parked, and vCPU {vcpu.Index} is running");
        return vcpus;
    }
}
