namespace KvmSharp.State;

/// <summary>
/// A component whose state can be saved and loaded (snapshots, live migration). The state is a plain
/// record next to the component (as rust-vmm's <c>QueueState</c> and Firecracker's <c>persist.rs</c>): public
/// init-only properties, serializable by the machine layer's source-generated JSON context.
/// <para>
/// <see cref="RestoreState"/> treats the record as hostile input, exactly as the guest path treats guest
/// values: every index, length and enum is checked, and a bad value throws <see cref="StateException"/>
/// naming the field, before anything of the component has changed where that is possible.
/// </para>
/// Callers save only while the machine is paused (no vCPU in the guest, device threads quiesced).
/// </summary>
public interface IStateful<TState> where TState : class
{
    TState SaveState();

    void RestoreState(TState state);
}
