using KvmSharp.Devices.Firmware;
using KvmSharp.Machine.Config;
using KvmSharp.State;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// OVMF's variable store: a flash chip of its own below the code (QEMU's second pflash on its PC machines), holding
/// this VM's copy of the store. The copy is made from the template the first time, atomically, so an interrupted
/// first start never leaves a half-written store behind; later starts find and keep the VM's variables.
/// </summary>
internal static class UefiVariableStore
{
    /// <summary>OVMF's flash block (its PcdOvmfFirmwareBlockSize), the unit it erases.</summary>
    public const int BlockSize = 4096;
    /// <summary>The largest store we take (OVMF's 4 MiB build has 528 KiB; QEMU's largest builds 768 KiB).</summary>
    public const int MaxSize = 4 << 20;

    public static (CfiFlash Flash, FlashFile? File) Open(FirmwareConfig firmware, Action<string> inform)
    {
        try
        {
            if (firmware.VarsPath is { } path)
            {
                if (!File.Exists(path))
                {
                    AtomicFile.WriteAllBytes(path, ReadChecked(firmware.VarsTemplate));
                    inform($"kvmsharp: created the VM's UEFI variable store {path} from {firmware.VarsTemplate}");
                }
                var contents = ReadChecked(path);
                var file = FlashFile.Open(path, inform);
                return (new CfiFlash(contents, BlockSize, file), file);
            }
            return (new CfiFlash(ReadChecked(firmware.VarsTemplate), BlockSize, backing: null), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineConfigException($"firmware: the UEFI variable store: {e.Message}");
        }
    }

    private static byte[] ReadChecked(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new MachineConfigException($"firmware: the UEFI variable store '{path}' does not exist");
        if (info.Length == 0 || info.Length > MaxSize || info.Length % BlockSize != 0)
            throw new MachineConfigException(
                $"firmware: '{path}' has {info.Length} bytes; a UEFI variable store is a multiple of {BlockSize} bytes, at most {MaxSize >> 20} MiB");
        return File.ReadAllBytes(path);
    }
}
