using System.Globalization;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// The <c>boot=N</c> key of <c>--disk</c> (and <c>--net</c>, where validation refuses it): the device's place in the
/// firmware's boot order, 1 first, as QEMU's bootindex. Only the number is read here; the rules are the config's.
/// </summary>
internal static class BootIndexOption
{
    public const string Key = "boot";

    public static bool TryParse(DeviceOptionList options, out int? index, out string error)
    {
        index = null;
        error = "";
        if (options.Get(Key) is not { } text) return true;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            error = $"{Key}={text}: give the device's place in the boot order as a number, 1 for the first tried";
            return false;
        }
        index = value;
        return true;
    }
}
