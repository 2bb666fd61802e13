using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// PCI bus 0 behind the host bridge: up to 32 slots of 8 functions, reached through configuration
/// cycles (<see cref="PciLegacyConfigAccess"/> and <see cref="PciEcam"/> both end here). It also
/// decodes BARs: when the guest enables memory or I/O decoding in a function's command register, each
/// BAR of that type whose programmed base lies inside a host bridge window is registered on the MMIO or
/// port <see cref="IoBus"/>, and it is unregistered again when decoding is turned off or the base moves
/// (PCI Local Bus spec 3.0 §6.2.2, §6.2.5). Hostile placements: a BAR outside every window (over RAM,
/// say) and a BAR that overlaps a range already on the bus (another BAR or a platform device) are not
/// decoded at all and are counted in <see cref="RejectedBarPlacements"/>; real hardware would leave
/// the result undefined, and we choose the variant that cannot hurt the host or other devices.
/// </summary>
public sealed partial class PciBus
{
    public const int Slots = 32;
    public const int FunctionsPerSlot = 8;

    private readonly IoBus _mmio;
    private readonly IoBus _pio;
    private readonly PciWindow[] _memoryWindows;
    private readonly PciWindow _ioWindow;
    private readonly IPciDevice?[] _functions = new IPciDevice?[Slots * FunctionsPerSlot];
    private readonly PciBarRegion?[][] _regions = new PciBarRegion?[Slots * FunctionsPerSlot][];
    // Configuration cycles are rare (probing, BAR setup, MSI-X enable) and change bus registrations, so
    // one lock serializes them; BAR accesses go through the IoBus and never take it.
    private readonly object _configLock = new();
    private long _rejected;

    public PciBus(IoBus mmio, IoBus pio, IReadOnlyList<PciWindow> memoryWindows, PciWindow ioWindow)
    {
        _mmio = mmio;
        _pio = pio;
        _memoryWindows = [.. memoryWindows];
        _ioWindow = ioWindow;
    }

    /// <summary>
    /// How often an enabled BAR could not be decoded where the guest put it (outside the windows, or
    /// overlapping); counted each time a command or BAR write re-evaluates it, for diagnostics.
    /// </summary>
    public long RejectedBarPlacements => Interlocked.Read(ref _rejected);

    /// <summary>Puts <paramref name="device"/> at slot/function on bus 0 (before the guest runs).</summary>
    public void Attach(int slot, int function, IPciDevice device)
    {
        if ((uint)slot >= Slots) throw new ArgumentOutOfRangeException(nameof(slot));
        if ((uint)function >= FunctionsPerSlot) throw new ArgumentOutOfRangeException(nameof(function));
        int index = slot * FunctionsPerSlot + function;
        lock (_configLock)
        {
            if (_functions[index] is not null)
                throw new InvalidOperationException($"PCI 00:{slot:x2}.{function} is taken");
            _functions[index] = device;
            var regions = new PciBarRegion?[6];
            for (int bar = 0; bar < 6; bar++)
                if (device.Config.GetBar(bar) is not null)
                    regions[bar] = new PciBarRegion(device, bar);
            _regions[index] = regions;
            // §6.2.1: the OS scans functions 1–7 only when function 0 says it is multi-function.
            if (function != 0 && _functions[slot * FunctionsPerSlot] is { } first)
                first.Config.MultiFunction = true;
            if (function == 0)
                for (int f = 1; f < FunctionsPerSlot; f++)
                    if (_functions[index + f] is not null) device.Config.MultiFunction = true;
        }
    }

    /// <summary>A configuration read; a bus, slot or function with no device reads all ones (§6.1).</summary>
    public void ReadConfig(int bus, int slot, int function, int offset, Span<byte> data)
    {
        var device = Find(bus, slot, function);
        if (device is null) { data.Fill(0xFF); return; }
        lock (_configLock) device.Config.Read(offset, data);
    }

    /// <summary>A configuration write; to a missing function it is dropped (master abort).</summary>
    public void WriteConfig(int bus, int slot, int function, int offset, ReadOnlySpan<byte> data)
    {
        var device = Find(bus, slot, function);
        if (device is null) return;
        lock (_configLock)
        {
            device.Config.Write(offset, data);
            device.ConfigWritten(offset, data.Length);
            // Only the command register and the BARs move decoders.
            if (Touches(offset, data.Length, PciConfigSpace.CommandOffset, 2) || Touches(offset, data.Length, PciConfigSpace.BarOffset, 24))
                UpdateDecoding(slot * FunctionsPerSlot + function);
        }
    }

    private IPciDevice? Find(int bus, int slot, int function) =>
        bus == 0 && (uint)slot < Slots && (uint)function < FunctionsPerSlot
            ? Volatile.Read(ref _functions[slot * FunctionsPerSlot + function])
            : null;

    private static bool Touches(int offset, int length, int start, int size) =>
        offset < start + size && (long)offset + length > start;

    private void UpdateDecoding(int index)
    {
        ReleaseMovedBars(index);
        DecodeBars(index);
    }

    /// <summary>Where BAR <paramref name="bar"/> of function <paramref name="index"/> should be decoded now; null: nowhere.</summary>
    private ulong? WantedBase(int index, int bar)
    {
        var config = _functions[index]!.Config;
        var shape = config.GetBar(bar)!;
        bool enabled = (config.Command & (shape.IsMemory ? PciConfigSpace.CommandMemorySpace : PciConfigSpace.CommandIoSpace)) != 0;
        return enabled ? config.BarAddress(bar) : null;
    }

    /// <summary>Takes off the bus every BAR of the function that is decoded somewhere other than where it should be.</summary>
    private void ReleaseMovedBars(int index)
    {
        var device = _functions[index]!;
        var regions = _regions[index];
        for (int bar = 0; bar < 6; bar++)
        {
            if (regions[bar] is not { MappedAt: { } old } region || WantedBase(index, bar) == old) continue;
            (device.Config.GetBar(bar)!.IsMemory ? _mmio : _pio).Unregister(old);
            region.MappedAt = null;
            (device as IPciBarListener)?.BarMoved(bar, null);
        }
    }

    /// <summary>Puts on the bus every BAR of the function that should be decoded and is not yet; hostile placements are counted and left off.</summary>
    private void DecodeBars(int index)
    {
        var device = _functions[index]!;
        var regions = _regions[index];
        for (int bar = 0; bar < 6; bar++)
        {
            if (regions[bar] is not { MappedAt: null } region || WantedBase(index, bar) is not { } start) continue;
            var shape = device.Config.GetBar(bar)!;
            if (!InWindow(shape, start) || !TryRegister(shape.IsMemory ? _mmio : _pio, start, shape.Size, region))
            {
                Interlocked.Increment(ref _rejected);
                continue;
            }
            region.MappedAt = start;
            (device as IPciBarListener)?.BarMoved(bar, start);
        }
    }

    private bool InWindow(PciBar shape, ulong start)
    {
        if (!shape.IsMemory) return _ioWindow.Contains(start, shape.Size);
        foreach (var w in _memoryWindows)
            if (w.Contains(start, shape.Size)) return true;
        return false;
    }

    private static bool TryRegister(IoBus bus, ulong start, ulong size, PciBarRegion region)
    {
        try
        {
            bus.Register(start, size, region);
            return true;
        }
        catch (InvalidOperationException)
        {
            // Overlaps a range already on the bus: IoBus reports that as a VMM bug, but here the guest chose it.
            return false;
        }
    }
}
