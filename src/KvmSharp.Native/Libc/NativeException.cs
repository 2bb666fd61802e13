using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>A failed system call: what was attempted and the errno it returned.</summary>
public sealed class NativeException(string operation, int errno)
    : Exception($"{operation} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public string Operation { get; } = operation;
    public int Errno { get; } = errno;
}
