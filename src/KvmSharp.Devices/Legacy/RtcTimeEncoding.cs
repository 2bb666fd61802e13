namespace KvmSharp.Devices.Legacy;

/// <summary>
/// The MC146818A's time register formats: BCD or binary (register B bit 2), 24-hour or 12-hour with
/// bit 7 meaning PM (register B bit 1), day of week 1 = Sunday, plus the century byte at 0x32.
/// Decoding takes guest-written bytes, so every field is range-checked instead of trusted.
/// </summary>
internal static class RtcTimeEncoding
{
    private const byte Binary = 0x04, TwentyFourHour = 0x02, Pm = 0x80;

    public static byte Encode(int index, DateTime time, byte registerB) => index switch
    {
        0x00 => ToRegister(time.Second, registerB),
        0x02 => ToRegister(time.Minute, registerB),
        0x04 => EncodeHour(time.Hour, registerB),
        0x06 => ToRegister((int)time.DayOfWeek + 1, registerB),
        0x07 => ToRegister(time.Day, registerB),
        0x08 => ToRegister(time.Month, registerB),
        0x09 => ToRegister(time.Year % 100, registerB),
        0x32 => ToRegister(time.Year / 100, registerB),
        _ => 0,
    };

    /// <summary>Reads the time registers out of CMOS RAM; false when any field is out of range.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> ram, byte registerB, out DateTime time)
    {
        time = default;
        if (!TryFromRegister(ram[0x00], registerB, out int second) || second > 59) return false;
        if (!TryFromRegister(ram[0x02], registerB, out int minute) || minute > 59) return false;
        if (!TryDecodeHour(ram[0x04], registerB, out int hour)) return false;
        if (!TryFromRegister(ram[0x09], registerB, out int year) || year > 99) return false;
        if (!TryFromRegister(ram[0x32], registerB, out int century) || century > 99) return false;
        int fullYear = century * 100 + year;
        if (fullYear < 1) return false;
        if (!TryFromRegister(ram[0x08], registerB, out int month) || month is < 1 or > 12) return false;
        if (!TryFromRegister(ram[0x07], registerB, out int day) || day < 1 || day > DateTime.DaysInMonth(fullYear, month)) return false;
        time = new DateTime(fullYear, month, day, hour, minute, second, DateTimeKind.Utc);
        return true;
    }

    private static byte EncodeHour(int hour, byte registerB)
    {
        if ((registerB & TwentyFourHour) != 0) return ToRegister(hour, registerB);
        int twelve = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(ToRegister(twelve, registerB) | (hour >= 12 ? Pm : 0));
    }

    private static bool TryDecodeHour(byte raw, byte registerB, out int hour)
    {
        if ((registerB & TwentyFourHour) != 0)
            return TryFromRegister(raw, registerB, out hour) && hour <= 23;
        bool pm = (raw & Pm) != 0;
        if (!TryFromRegister((byte)(raw & ~Pm), registerB, out int twelve) || twelve is < 1 or > 12)
        {
            hour = 0;
            return false;
        }
        hour = twelve % 12 + (pm ? 12 : 0);
        return true;
    }

    private static byte ToRegister(int value, byte registerB) =>
        (registerB & Binary) != 0 ? (byte)value : (byte)((value / 10) << 4 | value % 10);

    private static bool TryFromRegister(byte raw, byte registerB, out int value)
    {
        if ((registerB & Binary) != 0)
        {
            value = raw;
            return true;
        }
        value = (raw >> 4) * 10 + (raw & 0x0F);
        return (raw >> 4) <= 9 && (raw & 0x0F) <= 9;
    }
}
