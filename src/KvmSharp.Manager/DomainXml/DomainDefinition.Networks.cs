namespace KvmSharp.Manager.DomainXml;

public sealed partial record DomainDefinition
{
    /// <summary>The NICs on virtual networks (&lt;interface type='network'&gt;), in order.</summary>
    public IEnumerable<DomainInterface> NetworkInterfaces => Interfaces.Where(i => i.Network is not null);

    /// <summary>The definition with the tap of the <c>i</c>-th network NIC set to <paramref name="tap"/>(i): what a run uses once its taps exist.</summary>
    public DomainDefinition WithNetworkTaps(Func<int, string> tap)
    {
        int index = 0;
        return this with { Interfaces = [.. Interfaces.Select(i => i.Network is null ? i : i with { Tap = tap(index++) })] };
    }
}
