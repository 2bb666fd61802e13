using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Devices.Firmware;

/// <summary>Where a <see cref="CfiFlash"/> writes its programs and erases through: the VM's own variable-store file.</summary>
public interface IFlashBacking
{
    void Write(int offset, ReadOnlySpan<byte> data);
}

/// <summary>
/// A flash chip's file (the VM's copy of OVMF_VARS), opened once for writing; each program or erase is written at its
/// offset before the guest's write completes. A write that fails (disk full, file gone) is reported once through
/// <paramref name="onError"/> and the chip keeps its contents in memory: the guest sees a working flash, the loss is
/// the file's, and the host says so.
/// </summary>
public sealed class FlashFile(SafeFileHandle file, Action<string> onError) : IFlashBacking, IDisposable
{
    private bool _failed;

    public static FlashFile Open(string path, Action<string> onError) =>
        new(File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read), onError);

    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        try
        {
            RandomAccess.Write(file, data, offset);
        }
        catch (IOException e)
        {
            if (_failed) return;
            _failed = true;
            onError($"the firmware's variable store could not be written ({e.Message}); changes from now on are kept only in memory");
        }
    }

    public void Dispose() => file.Dispose();
}
