using System.Text;
using KvmSharp.Devices.Legacy;

namespace KvmSharp.Machine.Images;

/// <summary>
/// The host end of COM2 while the default guest runs an --exec command: /init writes one line
/// "exit-status N" there before it powers off, and this records N.
/// Why a serial line and not an I/O port register: a shell can only reach ports through /dev/port, and
/// Debian's cloud kernel is built without it (CONFIG_DEVPORT is not set); every PC kernel has the
/// 8250 driver, and a tty's last close waits until its bytes have left the UART, so the status is on
/// the host before the power-off that follows it. Guest output is input: lines are bounded, anything
/// that is not a status from 0 to 255 is ignored.
/// </summary>
public sealed class ExecStatusChannel : ISerialOutput
{
    public const string LinePrefix = "exit-status ";
    private const int MaxLine = 64;
    private readonly byte[] _line = new byte[MaxLine];
    private int _length;
    private bool _overflow;
    private volatile int _status = -1;

    /// <summary>The last status the guest reported, or null when it reported none.</summary>
    public int? Status => _status < 0 ? null : _status;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            if (b == (byte)'\n')
            {
                if (!_overflow) Parse(_line.AsSpan(0, _length));
                _length = 0;
                _overflow = false;
            }
            else if (_length < MaxLine) _line[_length++] = b;
            else _overflow = true;
        }
    }

    private void Parse(ReadOnlySpan<byte> line)
    {
        string text = Encoding.ASCII.GetString(line).TrimEnd('\r');
        if (text.StartsWith(LinePrefix, StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(LinePrefix.Length), System.Globalization.NumberStyles.None, null, out int status)
            && status <= 255)
            _status = status;
    }
}
