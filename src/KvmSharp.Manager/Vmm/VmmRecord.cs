namespace KvmSharp.Manager.Vmm;

/// <summary>
/// What the daemon writes down about a running domain's VMM (in the domain's directory, atomically), so that a
/// restarted daemon finds it again: the pid with its start time (a reused pid is not ours), and how it was running.
/// </summary>
/// <param name="Id">The domain's id while it runs (virsh's Id column).</param>
/// <param name="Starting">
/// Written as soon as the VMM is spawned, before it answers: a daemon killed during the start leaves this record, not an
/// orphan VMM nobody knows of. A restarted daemon that finds it still set ends that VMM (the start never finished and its
/// caller got no answer), as libvirt ends a domain whose start job it finds interrupted.
/// </param>
public sealed record VmmRecord(int Pid, ulong StartTime, int Id, string ApiSocket, string ConsoleSocket, bool Starting = false);
