namespace KvmSharp.Devices.Legacy;

/// <summary>
/// Register offsets and bit names of the 16550A UART, as the PC16550D datasheet (National/TI,
/// "PC16550D Universal Asynchronous Receiver/Transmitter with FIFOs", Table II and §8) defines them.
/// </summary>
internal static class UartRegisters
{
    // Offsets from the port base (Table I). With LCR.DLAB set, 0 and 1 are the divisor latch.
    public const int Data = 0;              // RBR (read) / THR (write) / DLL
    public const int InterruptEnable = 1;   // IER / DLM
    public const int InterruptId = 2;       // IIR (read) / FCR (write)
    public const int LineControl = 3;       // LCR
    public const int ModemControl = 4;      // MCR
    public const int LineStatus = 5;        // LSR
    public const int ModemStatus = 6;       // MSR
    public const int Scratch = 7;           // SCR

    // IER (§8.5): only bits 0-3 exist on a 16550A; bits 4-7 read as zero.
    public const byte IerReceivedData = 0x01;    // ERBFI
    public const byte IerTransmitEmpty = 0x02;   // ETBEI
    public const byte IerLineStatus = 0x04;      // ELSI
    public const byte IerModemStatus = 0x08;     // EDSSI
    public const byte IerMask = 0x0F;

    // IIR (§8.4, Table IV): bit 0 clear means "interrupt pending"; bits 1-3 identify the source.
    public const byte IirNoInterrupt = 0x01;
    public const byte IirModemStatus = 0x00;
    public const byte IirTransmitEmpty = 0x02;
    public const byte IirReceivedData = 0x04;
    public const byte IirLineStatus = 0x06;
    public const byte IirCharacterTimeout = 0x0C;
    public const byte IirFifosEnabled = 0xC0;

    // FCR (§8.3).
    public const byte FcrEnable = 0x01;
    public const byte FcrClearReceive = 0x02;
    public const byte FcrClearTransmit = 0x04;

    // LCR (§8.1).
    public const byte LcrDivisorLatchAccess = 0x80;

    // MCR (§8.7): bits 5-7 are permanently zero.
    public const byte McrDtr = 0x01;
    public const byte McrRts = 0x02;
    public const byte McrOut1 = 0x04;
    public const byte McrOut2 = 0x08;
    public const byte McrLoopback = 0x10;
    public const byte McrMask = 0x1F;

    // LSR (§8.6).
    public const byte LsrDataReady = 0x01;
    public const byte LsrOverrun = 0x02;
    public const byte LsrBreakAndErrors = 0x1E;    // OE, PE, FE, BI: the receiver line status interrupt sources
    public const byte LsrTransmitHoldingEmpty = 0x20;
    public const byte LsrTransmitterEmpty = 0x40;

    // MSR (§8.8): bits 0-3 are "changed since last read" deltas, bits 4-7 the line states.
    public const byte MsrDeltaCts = 0x01;
    public const byte MsrDeltaDsr = 0x02;
    public const byte MsrTrailingEdgeRi = 0x04;
    public const byte MsrDeltaDcd = 0x08;
    public const byte MsrDeltas = 0x0F;
    public const byte MsrCts = 0x10;
    public const byte MsrDsr = 0x20;
    public const byte MsrRi = 0x40;
    public const byte MsrDcd = 0x80;
}
