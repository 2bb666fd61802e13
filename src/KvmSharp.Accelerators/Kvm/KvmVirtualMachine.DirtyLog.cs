using KvmSharp.Memory;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Kvm;

// KVM's dirty-page log (api.rst, KVM_GET_DIRTY_LOG): each slot is registered again with KVM_MEM_LOG_DIRTY_PAGES,
// and KVM_GET_DIRTY_LOG hands out the slot's bitmap (one bit per page, in 64-bit words) and clears it, write-
// protecting the pages again. Slot i is GuestMemory region i, so the words OR straight into DirtyPageBitmap's.
// Safe while the vCPUs run: KVM keeps its own bitmaps consistent.
public sealed unsafe partial class KvmVirtualMachine
{
    private readonly Lock _dirtyLock = new();
    private ulong[][]? _dirtyBitmaps;

    public void StartDirtyLog()
    {
        lock (_dirtyLock)
        {
            if (_dirtyBitmaps is not null) return;
            var bitmaps = new ulong[Memory.Regions.Count][];
            for (int r = 0; r < bitmaps.Length; r++) bitmaps[r] = new ulong[(Memory.Regions[r].Size / MemoryMap.PageSize + 63) / 64];
            RegisterMemory(Memory, KvmMemoryFlags.LogDirtyPages);
            _dirtyBitmaps = bitmaps;
        }
    }

    public void CollectDirtyPages(DirtyPageBitmap into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_dirtyLock)
        {
            var bitmaps = _dirtyBitmaps ?? throw new InvalidOperationException("dirty-page logging is not on: call StartDirtyLog first");
            if (into.RegionCount != bitmaps.Length)
                throw new ArgumentException($"the bitmap has {into.RegionCount} regions, guest memory {bitmaps.Length}", nameof(into));
            for (int slot = 0; slot < bitmaps.Length; slot++)
            {
                var words = bitmaps[slot];
                var target = into.RegionWords(slot);
                if (target.Length != words.Length)
                    throw new ArgumentException($"region {slot} of the bitmap has {target.Length} words, guest memory {words.Length}", nameof(into));
                fixed (ulong* bitmap = words)
                {
                    var log = new KvmDirtyLog { Slot = (uint)slot, Bitmap = (ulong)bitmap };
                    Check(LibcImports.Ioctl(_fd, KvmIoctls.GetDirtyLog, &log), "KVM_GET_DIRTY_LOG");
                }
                for (int w = 0; w < words.Length; w++)
                    if (words[w] != 0) Interlocked.Or(ref target[w], words[w]);
            }
        }
    }

    public void StopDirtyLog()
    {
        lock (_dirtyLock)
        {
            if (_dirtyBitmaps is null) return;
            RegisterMemory(Memory, flags: 0);
            _dirtyBitmaps = null;
        }
    }
}
