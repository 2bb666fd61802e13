namespace KvmSharp.Manager.Domains;

/// <summary>virDomainState: the values go on the wire unchanged.</summary>
public enum DomainState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    Shutdown = 4,
    Shutoff = 5,
    Crashed = 6,
    PmSuspended = 7,
}

/// <summary>A domain as clients name it: <paramref name="Id"/> is -1 while it is not running (virsh prints "-").</summary>
public readonly record struct DomainRef(string Name, Guid Uuid, int Id);

/// <summary>virDomainGetInfo's answer; memory in KiB, CPU time in ns.</summary>
public sealed record DomainInfo(DomainState State, ulong MaxMemoryKib, ulong MemoryKib, int VcpuCount, ulong CpuTimeNs);

/// <summary>A state and its reason (virDomainRunningReason, virDomainShutoffReason, … : the number depends on the state).</summary>
public readonly record struct DomainStateAndReason(DomainState State, int Reason);

/// <summary>virDomainEventType and its detail (virDomainEventStartedDetailType, …), as virsh event prints them.</summary>
public sealed record DomainLifecycleEvent(DomainRef Domain, int Event, int Detail);

public readonly record struct SnapshotRef(string Name, DomainRef Domain);

/// <summary>virVcpuInfo: <paramref name="State"/> 1 running; <paramref name="Cpu"/> the host CPU last run on.</summary>
public readonly record struct VcpuInfo(uint Number, int State, ulong CpuTimeNs, int Cpu);

/// <summary>Where a console session's output goes: the RPC layer turns these into stream packets.</summary>
public interface IConsoleSink
{
    void Output(ReadOnlySpan<byte> bytes);

    /// <summary>The session ended: <paramref name="error"/> null at end of file (the domain stopped), else why.</summary>
    void Closed(string? error);
}

/// <summary>An open console; disposing it detaches (the domain runs on).</summary>
public interface IConsoleSession : IDisposable
{
    /// <summary>Bytes typed by the client, for the guest's serial port.</summary>
    void Input(ReadOnlySpan<byte> bytes);
}
