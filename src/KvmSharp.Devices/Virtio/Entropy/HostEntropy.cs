using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Entropy;

/// <summary>The host's entropy: getrandom(2) with no flags (the urandom source, which blocks only until the kernel's pool is first seeded).</summary>
internal static unsafe class HostEntropy
{
    /// <summary>Fills <paramref name="buffer"/> completely; getrandom may return less than asked when a signal arrives (getrandom(2)).</summary>
    public static void Fill(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint n = LibcImports.GetRandom(start + done, (nuint)(buffer.Length - done), 0);
                if (n > 0) { done += (int)n; continue; }
                int errno = Marshal.GetLastPInvokeError();
                if (n < 0 && errno == LibcConstants.EINTR) continue;
                throw new NativeException("getrandom", errno);
            }
        }
    }
}
