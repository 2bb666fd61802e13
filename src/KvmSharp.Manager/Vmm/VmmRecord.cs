namespace KvmSharp.Manager.Vmm;

/// <summary>
/// What the daemon writes down about a running domain's VMM (in the domain's directory, atomically), so that a
/// restarted daemon finds it again: the pid with its start time (a reused pid is not ours), and how it was running.
/// </summary>
/// <param name="Id">The domain's id while it runs (virsh's Id column).</param>
public sealed record VmmRecord(int Pid, ulong StartTime, int Id, string ApiSocket, string ConsoleSocket);
