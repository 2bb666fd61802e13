using System.Runtime.InteropServices;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Kvm;

// Register access: the structs in KvmSharp.Native.X86 have the kernel's layouts, so they go to the ioctls as they are.
public sealed unsafe partial class KvmVcpu
{
    public void GetRegisters(out Registers registers)
    {
        fixed (Registers* p = &registers)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetRegs, p), "KVM_GET_REGS");
    }

    public void SetRegisters(in Registers registers)
    {
        fixed (Registers* p = &registers)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetRegs, p), "KVM_SET_REGS");
    }

    public void GetSpecialRegisters(out SpecialRegisters registers)
    {
        fixed (SpecialRegisters* p = &registers)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetSregs, p), "KVM_GET_SREGS");
    }

    public void SetSpecialRegisters(in SpecialRegisters registers)
    {
        fixed (SpecialRegisters* p = &registers)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetSregs, p), "KVM_SET_SREGS");
    }

    public void GetFpu(out FpuState fpu)
    {
        fixed (FpuState* p = &fpu)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetFpu, p), "KVM_GET_FPU");
    }

    public void SetFpu(in FpuState fpu)
    {
        fixed (FpuState* p = &fpu)
            KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetFpu, p), "KVM_SET_FPU");
    }

    public void GetMsrs(ReadOnlySpan<uint> indices, Span<ulong> values)
    {
        if (values.Length < indices.Length) throw new ArgumentException("one value per MSR index", nameof(values));
        TransferMsrs(indices, values, KvmIoctls.GetMsrs, "KVM_GET_MSRS");
    }

    public void SetMsrs(ReadOnlySpan<uint> indices, ReadOnlySpan<ulong> values)
    {
        if (values.Length < indices.Length) throw new ArgumentException("one value per MSR index", nameof(values));
        Span<ulong> copy = indices.Length <= 64 ? stackalloc ulong[indices.Length] : new ulong[indices.Length];
        values[..indices.Length].CopyTo(copy);
        TransferMsrs(indices, copy, KvmIoctls.SetMsrs, "KVM_SET_MSRS");
    }

    /// <summary>
    /// KVM_GET_MSRS / KVM_SET_MSRS through one struct kvm_msrs buffer: entries carry <paramref name="values"/>
    /// in, and come back out into it. Both ioctls return how many entries they processed.
    /// </summary>
    private void TransferMsrs(ReadOnlySpan<uint> indices, Span<ulong> values, nuint request, string name)
    {
        int bytes = sizeof(KvmMsrsHeader) + indices.Length * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            ((KvmMsrsHeader*)buffer)->Count = (uint)indices.Length;
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrsHeader), indices.Length);
            for (int i = 0; i < indices.Length; i++) entries[i] = new KvmMsrEntry { Index = indices[i], Data = values[i] };
            int done = LibcImports.Ioctl(_fd, request, buffer);
            if (done != indices.Length)
                throw new NativeException($"{name} ({done} of {indices.Length} done; MSR 0x{(done >= 0 && done < indices.Length ? indices[done] : 0):x})",
                    Marshal.GetLastPInvokeError());
            for (int i = 0; i < indices.Length; i++) values[i] = entries[i].Data;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public ulong? TranslateLinearAddress(ulong linear)
    {
        var translation = new KvmTranslation { LinearAddress = linear };
        if (LibcImports.Ioctl(_fd, KvmIoctls.Translate, &translation) < 0 || translation.Valid == 0)
            return null;
        return translation.PhysicalAddress;
    }
}

// Multiprocessing state: whether the vCPU runs, halts or waits for INIT/SIPI (KVM_GET/SET_MP_STATE).
public sealed unsafe partial class KvmVcpu
{
    public uint GetMpState()
    {
        KvmMpState state;
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetMpState, &state), "KVM_GET_MP_STATE");
        return state.State;
    }

    public void SetMpState(uint state)
    {
        var value = new KvmMpState { State = state };
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetMpState, &value), "KVM_SET_MP_STATE");
    }
}
