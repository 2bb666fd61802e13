namespace KvmSharp.Devices;

/// <summary>
/// A device that does work on its own (a device thread, a host thread feeding it input) and can be frozen for
/// a snapshot or the last round of a migration. The machine pauses its vCPUs first, then its devices, saves,
/// and resumes in the reverse order.
/// <para>
/// <see cref="Pause"/> returns only when the device no longer touches guest memory and no longer changes an
/// interrupt line or sends a message signalled interrupt: work in flight (a block request, a frame half
/// delivered) is finished or given back first. Host input that arrives while paused waits in the device's own
/// buffers (it is part of its saved state) or is refused so that its source offers it again later.
/// <see cref="Resume"/> takes up what waited. Both are idempotent and may be called before the guest has
/// started the device; a device paused then keeps still when it is started (a restored machine starts paused).
/// </para>
/// </summary>
public interface IPausable
{
    void Pause();

    void Resume();
}
