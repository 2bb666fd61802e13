using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The page-table walk (Intel SDM vol 3 §4.3 32-bit, §4.4 PAE, §4.5 4-level paging).
public sealed unsafe partial class Mmu
{
    private const ulong Present = 1, Writable = 1 << 1, User = 1 << 2, Accessed = 1 << 5, Dirty = 1 << 6, LargePage = 1 << 7;
    private const ulong NoExecute = 1UL << 63;
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;
    private const ulong Cr4Pse = 1 << 4;

    private void Walk(ulong linear, AccessKind kind, ref TlbEntry entry)
    {
        bool write = kind == AccessKind.Write, user = UserAccess, fetch = kind == AccessKind.Execute;
        bool nxEnabled = (_cpu.Efer & SpecialRegisters.EferNx) != 0;
        bool allowWrite = true, allowUser = true, allowExecute = true;
        Span<ulong> entryAddresses = stackalloc ulong[4];
        int levels;
        ulong table, pageSize = 0x1000, physicalPage = 0;
        bool pae = (_cpu.Cr4 & SpecialRegisters.Cr4Pae) != 0;

        if (_cpu.LongModeActive) { levels = 4; table = _cpu.Cr3 & AddressMask; }
        else if (pae) { levels = 3; table = _cpu.Cr3 & 0xFFFF_FFE0; }
        else { levels = 2; table = _cpu.Cr3 & 0xFFFF_F000; }

        int depth = 0;
        for (int level = levels; level >= 1; level--)
        {
            ulong index, entryAddress;
            int entrySize = levels == 2 ? 4 : 8;
            if (levels == 2) index = (linear >> (level == 2 ? 22 : 12)) & 0x3FF;
            else if (levels == 3 && level == 3) index = (linear >> 30) & 3;
            else index = (linear >> (12 + 9 * (level - 1))) & 0x1FF;
            entryAddress = table + index * (ulong)entrySize;
            ulong pte = entrySize == 4 ? _physical.ReadPhysical32(entryAddress) : _physical.ReadPhysical64(entryAddress);
            if ((pte & Present) == 0) throw PageFault(linear, present: false, write, user, fetch);
            entryAddresses[depth++] = entryAddress;
            // PAE's PDPTEs carry no access rights (SDM §4.4.1).
            if (!(levels == 3 && level == 3))
            {
                allowWrite &= (pte & Writable) != 0;
                allowUser &= (pte & User) != 0;
                if (nxEnabled && entrySize == 8) allowExecute &= (pte & NoExecute) == 0;
            }
            bool large = level > 1 && (pte & LargePage) != 0 && !(levels == 3 && level == 3)
                         && (levels != 2 || (_cpu.Cr4 & Cr4Pse) != 0) && !(level == 4);
            if (large || level == 1)
            {
                pageSize = levels == 2
                    ? (level == 2 ? 0x40_0000UL : 0x1000UL)
                    : 1UL << (12 + 9 * (level - 1));
                ulong frame = levels == 2 && level == 2
                    ? (pte & 0xFFC0_0000) | ((pte & 0x001F_E000) << 19)   // PSE-36: bits 13–20 are address bits 32–39
                    : pte & AddressMask & ~(pageSize - 1);
                physicalPage = (frame | (linear & (pageSize - 1))) & PageMask;
                CheckRights(linear, write, user, fetch, allowWrite, allowUser, allowExecute);
                // Set accessed on every level, and dirty on the leaf for a write (SDM §4.8).
                for (int i = 0; i < depth; i++)
                {
                    ulong address = entryAddresses[i];
                    ulong bits = Accessed | (i == depth - 1 && write ? Dirty : 0);
                    if (entrySize == 4) _physical.OrPhysical32(address, (uint)bits);
                    else _physical.OrPhysical64(address, bits);
                }
                break;
            }
            table = pte & AddressMask;
        }

        // A writable translation lets later writes through without a walk: the page counts as written now.
        if (write) _physical.LogWrite(physicalPage, 1);
        // The rights as Allowed-at-lookup would have judged them (SDM §4.6), folded into tags (see TlbEntry).
        ulong tag = (linear & PageMask) | 1;
        bool wp = (_cpu.Cr0 & SpecialRegisters.Cr0WriteProtect) != 0;
        // The page tables may allow a write the memory does not take (the flash): no write tag, so writes go to MMIO.
        if (write && _physical.IsReadOnlyMemory(physicalPage)) write = false;
        entry = new TlbEntry
        {
            LinearPage = tag,
            PhysicalPage = physicalPage,
            HostPage = (nint)_physical.HostPointer(physicalPage, 0x1000),
            UserRead = allowUser ? tag : 0,
            Write = write && (allowWrite || !wp) ? tag : 0,
            UserWrite = write && allowUser && allowWrite ? tag : 0,
            Execute = allowExecute ? tag : 0,
            UserExecute = allowUser && allowExecute ? tag : 0,
        };
    }

    private void CheckRights(ulong linear, bool write, bool user, bool fetch, bool allowWrite, bool allowUser, bool allowExecute)
    {
        bool wp = (_cpu.Cr0 & SpecialRegisters.Cr0WriteProtect) != 0;
        if (user && !allowUser) throw PageFault(linear, present: true, write, user, fetch);
        if (write && !allowWrite && (user || wp)) throw PageFault(linear, present: true, write, user, fetch);
        if (fetch && !allowExecute) throw PageFault(linear, present: true, write, user, fetch);
    }

    /// <summary>#PF with the error code of SDM §4.7: P, W/R, U/S, I/D.</summary>
    private static CpuException PageFault(ulong linear, bool present, bool write, bool user, bool fetch) =>
        new(ExceptionVector.PageFault, (present ? 1u : 0) | (write ? 2u : 0) | (user ? 4u : 0) | (fetch ? 16u : 0), linear);
}
