using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>glibc's sigset_t: 1024 bits. Bit (n-1) of the first word is signal n.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SigSet
{
    public fixed ulong Bits[16];

    public void Add(int signal) => Bits[(signal - 1) / 64] |= 1UL << ((signal - 1) % 64);
    public void Remove(int signal) => Bits[(signal - 1) / 64] &= ~(1UL << ((signal - 1) % 64));
    public readonly bool Contains(int signal) => (Bits[(signal - 1) / 64] & (1UL << ((signal - 1) % 64))) != 0;
}

[StructLayout(LayoutKind.Sequential)]
public struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}

[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}

/// <summary>glibc's struct termios on x86-64 (60 bytes); only passed through to tcgetattr/cfmakeraw.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct Termios
{
    public uint InputFlags, OutputFlags, ControlFlags, LocalFlags;
    public byte Line;
    public fixed byte ControlChars[32];
    public uint InputSpeed, OutputSpeed;
}

/// <summary>struct rusage (144 bytes on x86-64); MaxRssKiB is ru_maxrss.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct RUsage
{
    public TimeVal UserTime, SystemTime;
    public long MaxRssKiB;
    public fixed long Rest[13];
}

[StructLayout(LayoutKind.Sequential)]
public struct TimeVal
{
    public long Seconds, Microseconds;
}

public static class LibcConstants
{
    public const int O_RDONLY = 0, O_RDWR = 2, O_NOCTTY = 0x100, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
    public const uint MFD_CLOEXEC = 1;
    public const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    public const int MADV_DONTNEED = 4, MADV_MERGEABLE = 12, MADV_HUGEPAGE = 14;
    public const int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;
    public const int EINTR = 4, EAGAIN = 11, ENOENT = 2, EACCES = 13, EPERM = 1, ENODEV = 19, ENXIO = 6, E2BIG = 7, EINVAL = 22, ENOTTY = 25;
    public const short POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int TCSANOW = 0;
    public const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
}
