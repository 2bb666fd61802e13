using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The PC's two 8259As: the master at 0x20/0x21 with the slave's INT on its IR2, the slave at
/// 0xA0/0xA1, and the edge/level control registers at 0x4D0/0x4D1 (PIIX/ICH ELCR1/ELCR2, which Linux
/// reads and writes for the SCI). The master's INT is the CPU's external interrupt.
/// </summary>
public sealed class Pic8259Pair : IExternalInterruptController, IStateful<Pic8259PairState>
{
    public const ushort MasterCommandPort = 0x20, MasterDataPort = 0x21;
    public const ushort SlaveCommandPort = 0xA0, SlaveDataPort = 0xA1;
    public const ushort ElcrMasterPort = 0x4D0, ElcrSlavePort = 0x4D1;

    private const int CascadeIrq = 2;

    // IRQ 0, 1, 2 (timer, keyboard, cascade) and IRQ 8, 13 (RTC, FPU) are edge only: their ELCR bits are
    // reserved (Intel PIIX4 datasheet §4.1.10, ELCR1/ELCR2), as KVM's in-kernel PIC masks them too.
    private readonly Pic8259 _master = new(isMaster: true, vectorBase: 0x08, elcrMask: 0xF8);
    private readonly Pic8259 _slave = new(isMaster: false, vectorBase: 0x70, elcrMask: 0xDE);

    public bool InterruptRequested { get; private set; }

    /// <summary>Drives ISA IRQ <paramref name="irq"/> (0–15). IRQ 2 is the cascade, which no device drives.</summary>
    public void SetIrq(int irq, bool high)
    {
        if ((uint)irq > 15 || irq == CascadeIrq)
            return;
        (irq < 8 ? _master : _slave).SetInput(irq & 7, high);
        Update();
    }

    /// <summary>
    /// The INTA cycle: the master resolves its request; if it is the cascade, the slave gives the vector.
    /// With nothing to give, the controller answers IR7 of the one asked, without putting it in service
    /// (8259A datasheet, "Interrupt Sequence": the spurious IR7/IRQ15 an OS learns to ignore).
    /// </summary>
    public byte Acknowledge()
    {
        byte vector;
        int irq = _master.HighestRequest();
        if (irq < 0)
        {
            vector = (byte)(_master.VectorBase + 7);
        }
        else
        {
            _master.Acknowledge(irq);
            if (irq == CascadeIrq)
            {
                int slaveIrq = _slave.HighestRequest();
                if (slaveIrq >= 0)
                    _slave.Acknowledge(slaveIrq);
                vector = (byte)(_slave.VectorBase + (slaveIrq >= 0 ? slaveIrq : 7));
            }
            else
            {
                vector = (byte)(_master.VectorBase + irq);
            }
        }
        Update();
        return vector;
    }

    /// <summary>Whether <paramref name="port"/> is one of the pair's registers.</summary>
    public static bool Decodes(ushort port) => port is MasterCommandPort or MasterDataPort or SlaveCommandPort or SlaveDataPort
        or ElcrMasterPort or ElcrSlavePort;

    /// <summary>Reads a byte register; the 8259A and ELCR have no wider ones, so other sizes read as a floating bus.</summary>
    public uint ReadPort(ushort port, int size)
    {
        if (size != 1)
            return FloatingBus.Read(size);
        byte value = port switch
        {
            MasterCommandPort => _master.ReadCommand(),
            MasterDataPort => _master.ReadData(),
            SlaveCommandPort => _slave.ReadCommand(),
            SlaveDataPort => _slave.ReadData(),
            ElcrMasterPort => _master.Elcr,
            ElcrSlavePort => _slave.Elcr,
            _ => 0xFF,
        };
        Update();   // a poll read is an acknowledge
        return value;
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (size != 1)
            return;
        byte data = (byte)value;
        switch (port)
        {
            case MasterCommandPort: _master.WriteCommand(data); break;
            case MasterDataPort: _master.WriteData(data); break;
            case SlaveCommandPort: _slave.WriteCommand(data); break;
            case SlaveDataPort: _slave.WriteData(data); break;
            case ElcrMasterPort: _master.WriteElcr(data); break;
            case ElcrSlavePort: _slave.WriteElcr(data); break;
            default: break;
        }
        Update();
    }

    public Pic8259PairState SaveState() => new() { Master = _master.SaveState(), Slave = _slave.SaveState() };

    public void RestoreState(Pic8259PairState state)
    {
        StateCheck.NotNull(state, "Pics");
        _master.CheckState(state.Master, "Pics.Master");
        _slave.CheckState(state.Slave, "Pics.Slave");
        _master.LoadState(state.Master);
        _slave.LoadState(state.Slave);
        Update();
    }

    /// <summary>
    /// Re-derives the outputs after any change. While the slave has a request it can present, the master
    /// sees the cascade line rise again (the slave's INT falls once its request goes in service and rises
    /// with the next one), which keeps IRR2 set for as long as the slave wants service.
    /// </summary>
    private void Update()
    {
        if (_slave.HighestRequest() >= 0)
            _master.RaiseCascade();
        InterruptRequested = _master.HighestRequest() >= 0;
    }
}
