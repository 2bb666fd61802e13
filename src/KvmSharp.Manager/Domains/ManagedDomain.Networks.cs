using KvmSharp.Machine.Config;
using KvmSharp.Machine.State;
using KvmSharp.State;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// A domain's NICs on virtual networks: before its VMM starts, a tap per NIC on the network's bridge (named by the
/// network driver, vnetN as libvirt names them), written down in the domain's directory (<c>taps</c>) so that whoever
/// sees the run end, this daemon or a restarted one, removes them.
/// </summary>
internal sealed partial class ManagedDomain
{
    private string TapsFile => Path.Combine(Paths.Directory, "taps");

    /// <summary>The taps of the running domain, in the order of its network NICs; none when it is not running.</summary>
    private IReadOnlyList<string> RunningTaps()
    {
        try { return _run is not null && File.Exists(TapsFile) ? [.. File.ReadAllLines(TapsFile).Where(l => l.Length > 0)] : []; }
        catch (IOException) { return []; }
    }

    /// <summary>
    /// Makes the taps of the definition's network NICs: fresh names, or <paramref name="wanted"/> (a restored machine
    /// opens the taps its saved config names). Returns them in NIC order.
    /// </summary>
    private IReadOnlyList<string> PlugNetworkTaps(IReadOnlyList<string?>? wanted = null)
    {
        var nics = _definition.NetworkInterfaces.ToList();
        UnplugNetworkTaps();   // left by a run that ended unseen
        if (nics.Count == 0) return [];
        var ports = _context.Networks ?? throw new ManagerException(ManagerError.ConfigUnsupported,
            "unsupported configuration: <interface type='network'> needs the daemon's virtual networks");
        var taps = ports.Plug(Name, [.. nics.Select((n, i) => new NetworkPortRequest(n.Network!, n.Mac!, wanted is not null && i < wanted.Count ? wanted[i] : null))]);
        Directory.CreateDirectory(Paths.Directory);
        AtomicFile.WriteAllBytes(TapsFile, System.Text.Encoding.UTF8.GetBytes(string.Join('\n', taps) + "\n"));
        return taps;
    }

    /// <summary>Removes the taps written down for the last run, if any.</summary>
    private void UnplugNetworkTaps()
    {
        if (!File.Exists(TapsFile)) return;
        try
        {
            _context.Networks?.Unplug([.. File.ReadAllLines(TapsFile).Where(l => l.Length > 0)]);
            File.Delete(TapsFile);
        }
        catch (IOException) { }
    }

    /// <summary>The taps a machine config opens for the definition's network NICs (by their place among the NICs).</summary>
    private IReadOnlyList<string?> NetworkTapsIn(MachineConfig config) =>
        [.. _definition.Interfaces.Select((nic, index) => (nic, index)).Where(x => x.nic.Network is not null)
            .Select(x => x.index < config.Nets.Count ? config.Nets[x.index].Tap : null)];

    private IReadOnlyList<string?> NetworkTapsInState(byte[] vmmState)
    {
        if (!_definition.NetworkInterfaces.Any()) return [];
        try { return NetworkTapsIn(MachineStateJson.Deserialize(vmmState, "the saved state").Config); }
        catch (StateException) { return []; }   // the VMM refuses the state itself, with its own words
    }

    private IReadOnlyList<string?> NetworkTapsInConfigFile()
    {
        if (!_definition.NetworkInterfaces.Any()) return [];
        try { return NetworkTapsIn(MachineConfigJson.ReadFile(Paths.MachineConfig)); }
        catch (Exception e) when (e is MachineConfigException or IOException) { return []; }
    }
}
