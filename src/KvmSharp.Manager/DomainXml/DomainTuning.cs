using System.Globalization;
using System.Xml.Linq;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// &lt;memtune&gt; (formatdomain "Memory Tuning"), in KiB; null: not set. Each becomes a limit of the VM's cgroup:
/// hard_limit the memory it may use at most, soft_limit what it is pushed back to under host pressure, and
/// swap_hard_limit memory plus swap (so at least hard_limit, libvirt's rule).
/// </summary>
public sealed record DomainMemoryTune(ulong? HardLimitKib, ulong? SoftLimitKib, ulong? SwapHardLimitKib)
{
    /// <summary>libvirt's "unlimited" (VIR_DOMAIN_MEMORY_PARAM_UNLIMITED, 2^53 - 1 KiB): a value at least this is no limit.</summary>
    public const ulong UnlimitedKib = 9007199254740991;

    public bool Any => HardLimitKib is not null || SoftLimitKib is not null || SwapHardLimitKib is not null;
}

/// <summary>
/// &lt;cputune&gt; (formatdomain "CPU Tuning"): shares (the VM's weight against others), and period/quota in µs, which
/// libvirt applies to each vCPU: every vCPU may run <see cref="QuotaUs"/> in each <see cref="PeriodUs"/> (a negative
/// quota: no limit). Our vCPUs are threads of one VMM in one cgroup, so the cgroup gets vCPUs × quota per period.
/// </summary>
public sealed record DomainCpuTune(ulong? Shares, ulong? PeriodUs, long? QuotaUs)
{
    /// <summary>The ranges libvirt checks (domain_validate.c; the kernel's CFS bandwidth limits, kernel/sched/core.c).</summary>
    public const ulong MinPeriodUs = 1000, MaxPeriodUs = 1_000_000, MaxQuotaUs = 17592186044415, MaxShares = 262144;

    public bool Any => Shares is not null || PeriodUs is not null || QuotaUs is not null;
}

/// <summary>Reading and writing &lt;memtune&gt; and &lt;cputune&gt;; anything else inside them is refused by name.</summary>
internal static class DomainTuningXml
{
    public static DomainMemoryTune? ReadMemoryTune(ElementReader? e)
    {
        if (e is null) return null;
        foreach (var child in e.ChildElements)
            if (child.Name.LocalName is not ("hard_limit" or "soft_limit" or "swap_hard_limit"))
                throw DomainXmlError.Unsupported($"<memtune> <{DomainXmlError.Quote(child.Name.LocalName)}> is not supported (hard_limit, soft_limit and swap_hard_limit are)");
        var tune = new DomainMemoryTune(Limit(e.Child("hard_limit")), Limit(e.Child("soft_limit")), Limit(e.Child("swap_hard_limit")));
        e.Finish();
        if (tune is { HardLimitKib: { } hard, SwapHardLimitKib: { } swap } && hard > swap)
            throw new Domains.ManagerException(Domains.ManagerError.InvalidArg, "memory hard_limit tunable value must be lower than or equal to swap_hard_limit");
        return tune.Any ? tune : null;
    }

    /// <summary>A limit in KiB (unit attribute as &lt;memory&gt;'s); libvirt's unlimited and above: none.</summary>
    private static ulong? Limit(ElementReader? e)
    {
        if (e is null) return null;
        ulong kib = XmlValues.ScaledKib(e);
        e.Finish();
        return kib >= DomainMemoryTune.UnlimitedKib ? null : kib;
    }

    public static DomainCpuTune? ReadCpuTune(ElementReader? e)
    {
        if (e is null) return null;
        foreach (var child in e.ChildElements)
            if (child.Name.LocalName is not ("shares" or "period" or "quota"))
                throw DomainXmlError.Unsupported($"<cputune> <{DomainXmlError.Quote(child.Name.LocalName)}> is not supported (shares, period and quota are)");
        ulong? shares = Unsigned(e.Child("shares"));
        ulong? period = Unsigned(e.Child("period"));
        long? quota = null;
        if (e.Child("quota") is { } q)
        {
            string text = q.TrimmedText();
            quota = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) ? value
                : throw DomainXmlError.Xml($"{q.Describe} must be a whole number, not '{DomainXmlError.Quote(text)}'");
            q.Finish();
        }
        e.Finish();
        // libvirt's checks and words (virDomainDefCputuneValidate): 0 means "not set" for both.
        if (period is { } p && p != 0 && p is < DomainCpuTune.MinPeriodUs or > DomainCpuTune.MaxPeriodUs)
            throw DomainXmlError.Unsupported($"Value of cputune 'period' must be in range [{DomainCpuTune.MinPeriodUs}, {DomainCpuTune.MaxPeriodUs}]");
        if (quota is { } qu && qu > 0 && qu is < (long)DomainCpuTune.MinPeriodUs or > (long)DomainCpuTune.MaxQuotaUs)
            throw DomainXmlError.Unsupported($"Value of cputune 'quota' must be in range [{DomainCpuTune.MinPeriodUs}, {DomainCpuTune.MaxQuotaUs}]");
        if (shares is > DomainCpuTune.MaxShares)
            throw DomainXmlError.Unsupported($"Value of cputune 'shares' must be in range [2, {DomainCpuTune.MaxShares}]");
        var tune = new DomainCpuTune(shares is 0 ? null : shares, period is 0 ? null : period, quota is 0 ? null : quota);
        return tune.Any ? tune : null;
    }

    private static ulong? Unsigned(ElementReader? e)
    {
        if (e is null) return null;
        ulong value = XmlValues.UnsignedText(e);
        e.Finish();
        return value;
    }

    /// <summary>&lt;memtune&gt; as libvirt writes it: each limit in KiB.</summary>
    public static XElement? MemoryTune(DomainMemoryTune? tune) => tune is null ? null : new XElement("memtune",
        Kib("hard_limit", tune.HardLimitKib), Kib("soft_limit", tune.SoftLimitKib), Kib("swap_hard_limit", tune.SwapHardLimitKib));

    public static XElement? CpuTune(DomainCpuTune? tune) => tune is null ? null : new XElement("cputune",
        tune.Shares is { } s ? new XElement("shares", Text(s)) : null,
        tune.PeriodUs is { } p ? new XElement("period", Text(p)) : null,
        tune.QuotaUs is { } q ? new XElement("quota", q.ToString(CultureInfo.InvariantCulture)) : null);

    private static XElement? Kib(string name, ulong? kib) => kib is { } value ? new XElement(name, new XAttribute("unit", "KiB"), Text(value)) : null;

    private static string Text(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
