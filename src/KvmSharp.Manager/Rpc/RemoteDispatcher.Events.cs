using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Rpc.Remote;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Lifecycle events and the console. Only the lifecycle event (id 0) is served; `virsh event --all` registers ids
/// 0…26 and needs only the first to succeed (libvirt-protocol.md §2), so the others are VIR_ERR_NO_SUPPORT.
/// </summary>
internal sealed partial class RemoteDispatcher
{
    /// <summary>VIR_DOMAIN_EVENT_ID_LIFECYCLE.</summary>
    private const int EventLifecycle = 0;

    /// <summary>VIR_DOMAIN_CONSOLE_FORCE, VIR_DOMAIN_CONSOLE_SAFE.</summary>
    private const uint ConsoleFlagsKnown = 3;

    private void AddEventAndConsoleProcedures()
    {
        // args {int eventID; remote_domain dom}; ret {int callbackID}.
        On(RemoteProcedure.ConnectDomainEventCallbackRegisterAny, (ref args, call) =>
        {
            int eventId = args.ReadInt32();
            DomainRef? domain = RemoteWire.ReadOptionalDomain(ref args);
            return w =>
            {
                CheckEventId(eventId);
                if (domain is { } d) Driver.LookupByUuid(d.Uuid);
                w.WriteInt32(call.Session.AddLifecycleCallback(domain?.Uuid));
            };
        });
        On(RemoteProcedure.ConnectDomainEventCallbackDeregisterAny, (ref args, call) =>
        {
            int callbackId = args.ReadInt32();
            return _ => call.Session.RemoveCallback(callbackId);
        });

        // The legacy pair, used when SUPPORTS_FEATURE(14) is 0: events go out as 107.
        On(RemoteProcedure.ConnectDomainEventRegisterAny, (ref args, call) =>
        {
            int eventId = args.ReadInt32();
            return _ =>
            {
                CheckEventId(eventId);
                call.Session.SetLegacyLifecycle(true);
            };
        });
        On(RemoteProcedure.ConnectDomainEventDeregisterAny, (ref args, call) =>
        {
            int eventId = args.ReadInt32();
            return _ =>
            {
                CheckEventId(eventId);
                call.Session.SetLegacyLifecycle(false);
            };
        });

        // args {dom; remote_string dev_name; uint flags}; void ret, then the stream (ConsoleStream).
        On(RemoteProcedure.DomainOpenConsole, (ref args, call) =>
        {
            var domain = RemoteWire.ReadDomain(ref args);
            string? device = args.ReadOptionalString();
            uint flags = args.ReadUInt32();
            return _ =>
            {
                CheckFlags(flags, ConsoleFlagsKnown, "virDomainOpenConsole");
                uint serial = call.Header.Serial;
                if (call.Session.HasStream(serial))
                    throw new ManagerException(ManagerError.OperationInvalid, $"a stream with serial {serial} is already open");
                var stream = new ConsoleStream(call.Session, call.Header);
                var console = Driver.OpenConsole(domain, device, flags, stream);
                stream.Attach(console);
                try
                {
                    call.Session.AddStream(serial, stream);
                }
                catch
                {
                    stream.Abandon();
                    throw;
                }
                call.AfterReply = stream.Activate;
            };
        }, writes: "virDomainOpenConsole");
    }

    private static void CheckEventId(int eventId)
    {
        if (eventId < 0) throw new ManagerException(ManagerError.InvalidArg, $"unsupported event ID {eventId}");
        if (eventId != EventLifecycle) throw new ManagerException(ManagerError.NoSupport, $"event ID {eventId} is not supported (only lifecycle events are)");
    }
}
