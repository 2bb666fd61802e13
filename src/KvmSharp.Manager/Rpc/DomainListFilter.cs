using KvmSharp.Manager.Domains;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// CONNECT_LIST_ALL_DOMAINS's VIR_CONNECT_LIST_DOMAINS_* flags (values read from python3-libvirt 9.0). Flags come in
/// pairs (ACTIVE/INACTIVE, …): neither set means no filter, either set keeps the domains matching one of them.
/// We have no checkpoints, so HAS_CHECKPOINT keeps none and NO_CHECKPOINT all. An unknown bit is VIR_ERR_INVALID_ARG,
/// on which virsh retries with ACTIVE|INACTIVE and filters itself (tools/virsh-domain-list.c).
/// </summary>
internal static class DomainListFilter
{
    public const uint Active = 1, Inactive = 2, Persistent = 4, Transient = 8, Running = 16, Paused = 32, Shutoff = 64,
        Other = 128, ManagedSave = 256, NoManagedSave = 512, Autostart = 1024, NoAutostart = 2048, HasSnapshot = 4096,
        NoSnapshot = 8192, HasCheckpoint = 16384, NoCheckpoint = 32768;

    private const uint Known = 65535;

    public static List<DomainRef> Apply(IDomainDriver driver, uint flags)
    {
        if ((flags & ~Known) != 0)
            throw new ManagerException(ManagerError.InvalidArg, $"unsupported flags (0x{flags & ~Known:x}) in function virConnectListAllDomains");
        var kept = new List<DomainRef>();
        foreach (var domain in driver.ListDomains())
        {
            try
            {
                if (Keep(driver, domain, flags)) kept.Add(domain);
            }
            catch (ManagerException e) when (e.Error == ManagerError.NoDomain)
            {
                // undefined while we looked: not listed
            }
        }
        return kept;
    }

    private static bool Keep(IDomainDriver driver, DomainRef domain, uint flags)
    {
        if ((flags & (Active | Inactive)) != 0 && !Pair(flags, Active, Inactive, domain.Id >= 0)) return false;
        if ((flags & (Persistent | Transient)) != 0 && !Pair(flags, Persistent, Transient, driver.IsPersistent(domain))) return false;
        if ((flags & (Running | Paused | Shutoff | Other)) != 0)
        {
            var state = driver.GetState(domain).State;
            uint bit = state switch
            {
                DomainState.Running => Running,
                DomainState.Paused => Paused,
                DomainState.Shutoff => Shutoff,
                _ => Other,
            };
            if ((flags & bit) == 0) return false;
        }
        if ((flags & (ManagedSave | NoManagedSave)) != 0 && !Pair(flags, ManagedSave, NoManagedSave, driver.HasManagedSave(domain))) return false;
        if ((flags & (Autostart | NoAutostart)) != 0 && !Pair(flags, Autostart, NoAutostart, driver.GetAutostart(domain))) return false;
        if ((flags & (HasSnapshot | NoSnapshot)) != 0 && !Pair(flags, HasSnapshot, NoSnapshot, driver.ListSnapshots(domain, 0).Count > 0)) return false;
        if ((flags & (HasCheckpoint | NoCheckpoint)) != 0 && !Pair(flags, HasCheckpoint, NoCheckpoint, false)) return false;
        return true;
    }

    /// <summary>Whether a domain with <paramref name="value"/> passes a pair of which at least one flag is set.</summary>
    private static bool Pair(uint flags, uint yes, uint no, bool value) => (flags & (value ? yes : no)) != 0;
}
