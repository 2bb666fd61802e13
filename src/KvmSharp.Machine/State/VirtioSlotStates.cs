using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.State;

namespace KvmSharp.Machine.State;

/// <summary>Saves and loads one virtio slot: the device's own state (of whichever kind it has), then its transport.</summary>
internal static class VirtioSlotStates
{
    public static VirtioSlotState Save(int slot, VirtioPciDevice transport)
    {
        var device = transport.Device;
        return new VirtioSlotState
        {
            Slot = slot,
            Transport = transport.SaveState(),
            Block = SaveOf<VirtioBlockState>(device),
            Net = SaveOf<VirtioNetState>(device),
            Balloon = SaveOf<VirtioBalloonState>(device),
            Console = SaveOf<VirtioConsoleState>(device),
            Vsock = SaveOf<VirtioVsockState>(device),
            Fs = SaveOf<VirtioFsState>(device),
        };
    }

    /// <summary>Refuses a saved slot whose kinds of state do not match the device built in that slot (before anything loads).</summary>
    public static void Check(VirtioSlotState saved, int slot, IVirtioDevice device, string field)
    {
        StateCheck.That(saved.Slot == slot, $"{field}.slot", $"slot {saved.Slot}, but the machine has its device in slot {slot}");
        StateCheck.NotNull(saved.Transport, $"{field}.transport");
        Matches(saved.Block, device, $"{field}.block");
        Matches(saved.Net, device, $"{field}.net");
        Matches(saved.Balloon, device, $"{field}.balloon");
        Matches(saved.Console, device, $"{field}.console");
        Matches(saved.Vsock, device, $"{field}.vsock");
        Matches(saved.Fs, device, $"{field}.fs");
    }

    /// <summary>The device's own state first, then the transport's, which restarts a running device (the devices' rule).</summary>
    public static void Restore(VirtioSlotState saved, VirtioPciDevice transport)
    {
        var device = transport.Device;
        RestoreOf(saved.Block, device);
        RestoreOf(saved.Net, device);
        RestoreOf(saved.Balloon, device);
        RestoreOf(saved.Console, device);
        RestoreOf(saved.Vsock, device);
        RestoreOf(saved.Fs, device);
        transport.RestoreState(saved.Transport);
    }

    private static T? SaveOf<T>(IVirtioDevice device) where T : class => device is IStateful<T> stateful ? stateful.SaveState() : null;

    private static void Matches<T>(T? saved, IVirtioDevice device, string field) where T : class =>
        StateCheck.That((saved is not null) == device is IStateful<T>, field,
            saved is null ? "is missing for the device in that slot" : "is there, but the device in that slot is another kind");

    private static void RestoreOf<T>(T? saved, IVirtioDevice device) where T : class
    {
        if (saved is not null) ((IStateful<T>)device).RestoreState(saved);
    }
}
