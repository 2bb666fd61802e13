using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Machine.Guests;

/// <summary>
/// The guest that runs when no kernel is given (until a default Linux guest exists): it greets on COM1,
/// reports what the multiboot info says about memory, and powers the machine off through ACPI.
/// </summary>
public static class DemoGuest
{
    /// <summary>PM1a_CNT: SLP_TYP for S5 in bits 10-12 and SLP_EN (bit 13), ACPI 6.5 §4.8.3.2.1.</summary>
    private static readonly ushort PowerOffPort = (ushort)(Memory.MemoryMap.AcpiPmIoBase + Boot.Acpi.AcpiPmLayout.Pm1ControlOffset);
    private static readonly ushort PowerOffValue = (ushort)((Boot.Acpi.AcpiPmLayout.S5SleepType << 10) | (1 << 13));

    public static byte[] Build() => MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        a.mov(esp, 0x90000);
        a.mov(edi, ebx);                   // multiboot info
        a.mov(esi, data.AddString("Hello from the KvmSharp demo guest, running in 32-bit protected mode.\r\n"));
        a.call(puts);
        a.mov(esi, data.AddString("Multiboot says there is 0x"));
        a.call(puts);
        a.mov(eax, __dword_ptr[edi + 8]);  // mem_upper: KiB above 1 MiB (Multiboot §3.3)
        a.call(putHex);
        a.mov(esi, data.AddString(" KiB of memory above 1 MiB.\r\n"));
        a.call(puts);
        a.mov(esi, data.AddString("Powering off through ACPI. Run a real kernel with --kernel PATH.\r\n"));
        a.call(puts);
        a.mov(dx, PowerOffPort);
        a.mov(ax, PowerOffValue);
        a.@out(dx, ax);
        TinyGuests.EmitHaltForever(a);
        TinyGuests.EmitPuts(a, puts);
        TinyGuests.EmitPutHex(a, putHex);
    });
}
