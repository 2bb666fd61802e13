using KvmSharp.Manager.Vmm;

namespace KvmSharp.Manager.Domains;

/// <summary>One run of a domain: its VMM process, the API client that drives it and the console relay.</summary>
internal sealed class DomainRun(int id, VmmProcess process, VmmApiClient api, ConsoleRelay? console) : IDisposable
{
    public int Id { get; } = id;
    public VmmProcess Process { get; } = process;
    public VmmApiClient Api { get; } = api;
    public ConsoleRelay? Console { get; set; } = console;
    public DomainState State { get; set; } = DomainState.Running;
    public int Reason { get; set; } = StateReason.RunningBooted;

    /// <summary>Why the daemon itself ends this run (destroy, save, revert); null: the run ends on its own.</summary>
    public int? EndingAs { get; set; }

    /// <summary>Set once the run's end has been applied (state, events, files), by whichever side saw it first.</summary>
    public bool Finished { get; set; }

    public void Dispose()
    {
        Console?.Dispose();
        Api.Dispose();
        Process.Dispose();
    }
}
