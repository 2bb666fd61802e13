namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>Architectural exception vectors (Intel SDM vol 3 §6.3.1).</summary>
public static class ExceptionVector
{
    public const byte DivideError = 0, Debug = 1, Breakpoint = 3, Overflow = 4, BoundRange = 5, InvalidOpcode = 6,
        DeviceNotAvailable = 7, DoubleFault = 8, InvalidTss = 10, SegmentNotPresent = 11, StackFault = 12,
        GeneralProtection = 13, PageFault = 14, FloatingPoint = 16, AlignmentCheck = 17, SimdFloatingPoint = 19;

    /// <summary>Vectors that push an error code.</summary>
    public static bool HasErrorCode(byte vector) =>
        vector is DoubleFault or InvalidTss or SegmentNotPresent or StackFault or GeneralProtection or PageFault or AlignmentCheck;
}

/// <summary>
/// A fault raised while executing an instruction. Thrown from deep inside operand access and caught once
/// per instruction by the run loop, which delivers it through the IDT; the instruction has no effect.
/// </summary>
public sealed class CpuException(byte vector, uint errorCode = 0, ulong faultAddress = 0) : Exception
{
    public byte Vector { get; } = vector;
    public uint ErrorCode { get; } = errorCode;
    /// <summary>CR2 for a page fault.</summary>
    public ulong FaultAddress { get; } = faultAddress;

    public static CpuException GeneralProtection(uint errorCode = 0) => new(ExceptionVector.GeneralProtection, errorCode);
    public static CpuException InvalidOpcode() => new(ExceptionVector.InvalidOpcode);
}

/// <summary>An instruction read MMIO whose value the VMM has not supplied yet: the instruction is retried after the exit.</summary>
public sealed class MmioReadPending : Exception
{
    public static readonly MmioReadPending Instance = new();
}
