using System.Text;
using Iced.Intel;
using KvmSharp.Memory;
using KvmSharp.Native.Kvm;

namespace KvmSharp.Accelerators.Kvm;

// Turning an internal error into one line a user can act on. Runs once, when the VM stops, so it may allocate.
public sealed unsafe partial class KvmVcpu
{
    private string DescribeInternalError()
    {
        ref var error = ref _run->Internal;
        string where = DescribeCurrentInstruction();
        if (error.Suberror == KvmExitReason.InternalErrorEmulation)
            return $"KVM could not emulate the guest instruction {where}; this host's /dev/kvm cannot run this guest " +
                   "(a software-backed KVM without VT-x/AMD-V stops at SSE and similar instructions): use --accel emulate";
        return $"KVM internal error (suberror {error.Suberror}) {where}";
    }

    /// <summary>"at RIP 0x… (bytes 66 0f ef c0: pxor xmm0,xmm0)", from the guest's own memory.</summary>
    private string DescribeCurrentInstruction()
    {
        try
        {
            GetRegisters(out var regs);
            GetSpecialRegisters(out var sregs);
            ulong linear = sregs.Cs.Base + regs.Rip;
            var text = new StringBuilder($"at RIP 0x{regs.Rip:x}");
            if (TranslateLinearAddress(linear) is not { } physical)
                return text.Append(" (not mapped)").ToString();
            Span<byte> bytes = stackalloc byte[15];
            int length = 15;
            while (length > 0 && !_vm.Memory.TryRead(new GuestAddress(physical), bytes[..length])) length--;
            if (length == 0) return text.Append($" (physical 0x{physical:x} is not RAM)").ToString();
            int bitness = (sregs.Efer & 0x400) != 0 && sregs.Cs.Long != 0 ? 64 : sregs.Cs.DefaultSize != 0 ? 32 : 16;
            var decoder = Iced.Intel.Decoder.Create(bitness, new ByteArrayCodeReader(bytes[..length].ToArray()), regs.Rip);
            var instruction = decoder.Decode();
            int shown = instruction.IsInvalid ? length : instruction.Length;
            text.Append(" (bytes ").Append(string.Join(" ", bytes[..shown].ToArray().Select(b => b.ToString("x2"))));
            if (!instruction.IsInvalid)
            {
                var formatter = new IntelFormatter();
                var output = new StringOutput();
                formatter.Format(instruction, output);
                text.Append(": ").Append(output.ToStringAndReset());
            }
            return text.Append(')').ToString();
        }
        catch (Exception e) when (e is Native.Libc.NativeException or GuestMemoryException)
        {
            return "(the instruction could not be read)";
        }
    }
}
