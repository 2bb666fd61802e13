using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>The 8259A pair as Linux's arch/x86/kernel/i8259.c programs and acknowledges it (8259A datasheet).</summary>
public class Pic8259Tests
{
    private readonly Pic8259Pair _pics = new();

    private void Out(ushort port, byte value) => _pics.WritePort(port, 1, value);
    private byte In(ushort port) => (byte)_pics.ReadPort(port, 1);

    /// <summary>init_8259A: mask all, ICW1–ICW4 on both (vectors 0x30/0x38, slave on IR2), then open the cascade only.</summary>
    private void InitializeAsLinux(bool autoEoi = false)
    {
        Out(0x21, 0xFF);
        Out(0xA1, 0xFF);
        Out(0x20, 0x11);                      // ICW1: edge, cascade, ICW4 follows
        Out(0x21, 0x30);                      // ICW2: vectors 0x30-0x37
        Out(0x21, 0x04);                      // ICW3: slave on IR2
        Out(0x21, (byte)(autoEoi ? 0x03 : 0x01));   // ICW4: 8086 mode (+AEOI)
        Out(0xA0, 0x11);
        Out(0xA1, 0x38);
        Out(0xA1, 0x02);                      // ICW3: slave ID 2
        Out(0xA1, 0x01);
        Out(0x21, 0xFB);                      // everything masked but the cascade
        Out(0xA1, 0xFF);
    }

    private byte ReadIsr(ushort commandPort)
    {
        Out(commandPort, 0x0B);               // OCW3: read ISR
        byte isr = In(commandPort);
        Out(commandPort, 0x0A);               // back to IRR, as i8259A_irq_real leaves it
        return isr;
    }

    private void Pulse(int irq)
    {
        _pics.SetIrq(irq, true);
        _pics.SetIrq(irq, false);
    }

    [Fact]
    public void LinuxProbeReadsBackTheMask()
    {
        // probe_8259A: slave masked, master all but IR2; the mask must read back.
        Out(0xA1, 0xFF);
        Out(0x21, 0xFB);
        Assert.Equal(0xFB, In(0x21));
        Assert.Equal(0xFF, In(0xA1));
    }

    [Fact]
    public void NothingIsRequestedBeforeInitialization()
    {
        _pics.SetIrq(1, true);
        Assert.False(_pics.InterruptRequested);
    }

    [Fact]
    public void MasterInterruptIsAcknowledgedAndEndedWithASpecificEoi()
    {
        InitializeAsLinux();
        Out(0x21, 0xF9);                      // unmask IRQ1
        Pulse(1);
        Assert.True(_pics.InterruptRequested);
        Assert.Equal(0x02, In(0x20));         // IRR
        Assert.Equal(0x31, _pics.Acknowledge());
        Assert.False(_pics.InterruptRequested);
        Assert.Equal(0x02, ReadIsr(0x20));
        Assert.Equal(0x00, In(0x20));         // the edge request was consumed
        Out(0x20, 0x61);                      // mask_and_ack_8259A: specific EOI for IR1
        Assert.Equal(0x00, ReadIsr(0x20));
    }

    [Fact]
    public void SlaveInterruptGoesThroughTheCascade()
    {
        InitializeAsLinux();
        Out(0xA1, 0xEF);                      // unmask IRQ12 (slave IR4)
        Pulse(12);
        Assert.True(_pics.InterruptRequested);
        Assert.Equal(0x3C, _pics.Acknowledge());
        Assert.Equal(0x04, ReadIsr(0x20));
        Assert.Equal(0x10, ReadIsr(0xA0));
        Out(0xA0, 0x64);                      // specific EOI on the slave, then for the cascade on the master
        Out(0x20, 0x62);
        Assert.Equal(0x00, ReadIsr(0x20));
        Assert.Equal(0x00, ReadIsr(0xA0));
        Assert.False(_pics.InterruptRequested);
    }

    [Fact]
    public void SecondSlaveRequestIsPresentedAfterTheFirstEnds()
    {
        InitializeAsLinux();
        Out(0xA1, 0x00);
        Pulse(12);
        Pulse(14);
        Assert.Equal(0x3C, _pics.Acknowledge());
        Assert.False(_pics.InterruptRequested);   // IR2 in service holds the lower slave request back
        Out(0xA0, 0x64);
        Out(0x20, 0x62);
        Assert.True(_pics.InterruptRequested);
        Assert.Equal(0x3E, _pics.Acknowledge());
    }

    [Fact]
    public void HigherPriorityNestsAndLowerWaits()
    {
        InitializeAsLinux();
        Out(0x21, 0xF0);                      // IRQ0-3 unmasked
        Pulse(3);
        Pulse(1);
        Assert.Equal(0x31, _pics.Acknowledge());   // IR1 before IR3
        Assert.False(_pics.InterruptRequested);    // IR3 waits for IR1's EOI
        Pulse(0);
        Assert.True(_pics.InterruptRequested);     // IR0 nests
        Assert.Equal(0x30, _pics.Acknowledge());
        Out(0x20, 0x20);                           // non-specific EOI ends the highest in service: IR0
        Assert.Equal(0x02, ReadIsr(0x20));
        Out(0x20, 0x20);
        Assert.Equal(0x33, _pics.Acknowledge());
    }

    [Fact]
    public void MaskedRequestIsLatchedAndPresentedWhenUnmasked()
    {
        InitializeAsLinux();
        Pulse(5);
        Assert.False(_pics.InterruptRequested);
        Assert.Equal(0x20, In(0x20));         // IRR holds it
        Out(0x21, 0xDB);
        Assert.True(_pics.InterruptRequested);
        Assert.Equal(0x35, _pics.Acknowledge());
    }

    [Fact]
    public void AcknowledgeWithNothingPendingGivesSpuriousIr7WithoutServicingIt()
    {
        InitializeAsLinux();
        Assert.Equal(0x37, _pics.Acknowledge());
        Assert.Equal(0x00, ReadIsr(0x20));
    }

    [Fact]
    public void SlaveRequestThatWentAwayGivesSpuriousIrq15()
    {
        InitializeAsLinux();
        Out(0x4D1, 0x04);                     // IRQ10 level-triggered
        Out(0xA1, 0xFB);
        _pics.SetIrq(10, true);
        Assert.True(_pics.InterruptRequested);
        _pics.SetIrq(10, false);              // gone before the INTA cycle
        Assert.Equal(0x3F, _pics.Acknowledge());
        Assert.Equal(0x04, ReadIsr(0x20));    // the master did serve the cascade (Linux EOIs it)
        Assert.Equal(0x00, ReadIsr(0xA0));
    }

    [Fact]
    public void LevelTriggeredLineRequestsAgainAfterEoiWhileHigh()
    {
        InitializeAsLinux();
        Out(0x4D1, 0x02);                     // IRQ9 (the SCI) level, as acpi_pic_sci_set_trigger writes ELCR
        Out(0xA1, 0xFD);
        _pics.SetIrq(9, true);
        Assert.Equal(0x39, _pics.Acknowledge());
        Out(0xA0, 0x61);
        Out(0x20, 0x62);
        Assert.True(_pics.InterruptRequested);
        Assert.Equal(0x39, _pics.Acknowledge());
        _pics.SetIrq(9, false);
        Out(0xA0, 0x61);
        Out(0x20, 0x62);
        Assert.False(_pics.InterruptRequested);
    }

    [Fact]
    public void ElcrKeepsOnlyTheBitsOfIrqsThatMayBeLevel()
    {
        Out(0x4D0, 0xFF);
        Out(0x4D1, 0xFF);
        Assert.Equal(0xF8, In(0x4D0));        // not IRQ 0, 1, 2
        Assert.Equal(0xDE, In(0x4D1));        // not IRQ 8, 13
    }

    [Fact]
    public void AutoEoiLeavesNothingInService()
    {
        InitializeAsLinux(autoEoi: true);
        Out(0x21, 0xFA);                      // IRQ0 unmasked
        Pulse(0);
        Assert.Equal(0x30, _pics.Acknowledge());
        Assert.Equal(0x00, ReadIsr(0x20));
        Pulse(0);
        Assert.True(_pics.InterruptRequested);
    }

    [Fact]
    public void RotateOnNonSpecificEoiMakesTheServedLevelLowest()
    {
        InitializeAsLinux();
        Out(0x21, 0x00);
        Pulse(1);
        Assert.Equal(0x31, _pics.Acknowledge());
        Out(0x20, 0xA0);                      // OCW2 101: rotate on non-specific EOI; IR2 is now highest
        Pulse(0);
        Pulse(3);
        Assert.Equal(0x33, _pics.Acknowledge());   // IR3 ranks above IR0 now
    }

    [Fact]
    public void SetPriorityMakesTheNamedLevelLowest()
    {
        InitializeAsLinux();
        Out(0x21, 0x00);
        Out(0x20, 0xC4);                      // OCW2 110, L=4: IR4 lowest, IR5 highest
        Pulse(0);
        Pulse(6);
        Assert.Equal(0x36, _pics.Acknowledge());
    }

    [Fact]
    public void PollCommandReadsAndAcknowledgesTheHighestRequest()
    {
        InitializeAsLinux();
        Out(0x21, 0xF3);                      // IR2, IR3 unmasked
        Pulse(3);
        Out(0x20, 0x0C);                      // OCW3: poll
        Assert.Equal(0x83, In(0x20));
        Assert.Equal(0x08, ReadIsr(0x20));
        Out(0x20, 0x0C);
        Assert.Equal(0x00, In(0x21));         // nothing more: bit 7 clear
        Assert.Equal(0xF3, In(0x21));         // the poll is over: the mask again
    }

    [Fact]
    public void SpecialMaskModeLetsLowerLevelsThroughWhileTheServedOneIsMasked()
    {
        InitializeAsLinux();
        Out(0x21, 0x00);
        Pulse(1);
        Assert.Equal(0x31, _pics.Acknowledge());
        Pulse(3);
        Assert.False(_pics.InterruptRequested);
        Out(0x21, 0x02);                      // mask IR1 (in service)
        Assert.False(_pics.InterruptRequested);
        Out(0x20, 0x68);                      // OCW3: set special mask mode
        Assert.True(_pics.InterruptRequested);
        Out(0x20, 0x48);                      // reset special mask mode
        Assert.False(_pics.InterruptRequested);
    }

    [Fact]
    public void Icw1ResetsMaskServiceAndEdgeSense()
    {
        InitializeAsLinux();
        Out(0x21, 0x00);
        _pics.SetIrq(4, true);
        Assert.Equal(0x34, _pics.Acknowledge());
        _pics.SetIrq(5, true);                // pending in IRR
        Out(0x20, 0x11);
        Out(0x21, 0x40);
        Out(0x21, 0x04);
        Out(0x21, 0x01);
        Assert.Equal(0x00, In(0x21));         // mask cleared
        Assert.Equal(0x00, In(0x20));         // the latched edge was dropped
        Assert.Equal(0x00, ReadIsr(0x20));
        Assert.False(_pics.InterruptRequested);   // IR4/IR5 are still high but have not risen since
        _pics.SetIrq(5, false);
        _pics.SetIrq(5, true);
        Assert.Equal(0x45, _pics.Acknowledge());
    }

    [Fact]
    public void HostileAccessesAreHarmless()
    {
        InitializeAsLinux();
        Assert.Equal(0xFFFFu, _pics.ReadPort(0x20, 2));
        Assert.Equal(0xFFFF_FFFFu, _pics.ReadPort(0x21, 4));
        _pics.WritePort(0x21, 2, 0x0000);     // not a byte write: ignored
        Assert.Equal(0xFB, In(0x21));
        _pics.SetIrq(-1, true);
        _pics.SetIrq(16, true);
        _pics.SetIrq(2, true);                // the cascade input is not a device line
        Out(0x21, 0x00);
        Assert.False(_pics.InterruptRequested);
        Out(0x20, 0x40);                      // OCW2 010: no operation
        Out(0x20, 0x20);                      // EOI with nothing in service
        Assert.False(_pics.InterruptRequested);
    }
}
