using System.Diagnostics;
using System.Runtime.CompilerServices;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Native;

/// <summary>
/// Our blittable KVM structures and ioctl numbers against the host kernel's own headers: a C program
/// compiled here prints sizeof/offsetof and the ioctl numbers from linux/kvm.h.
/// </summary>
public class KvmAbiTests
{
    private static readonly Lazy<Dictionary<string, ulong>> Kernel = new(CompileAndRunProbe);

    private const string ProbeSource = """
        #include <stdio.h>
        #include <stddef.h>
        #include <linux/kvm.h>
        #define P(name, value) printf("%s=%llu\n", name, (unsigned long long)(value))
        int main(void) {
            P("sizeof kvm_run", sizeof(struct kvm_run));
            P("sizeof kvm_regs", sizeof(struct kvm_regs));
            P("sizeof kvm_sregs", sizeof(struct kvm_sregs));
            P("sizeof kvm_segment", sizeof(struct kvm_segment));
            P("sizeof kvm_dtable", sizeof(struct kvm_dtable));
            P("sizeof kvm_fpu", sizeof(struct kvm_fpu));
            P("sizeof kvm_cpuid2", sizeof(struct kvm_cpuid2));
            P("sizeof kvm_cpuid_entry2", sizeof(struct kvm_cpuid_entry2));
            P("sizeof kvm_msrs", sizeof(struct kvm_msrs));
            P("sizeof kvm_msr_entry", sizeof(struct kvm_msr_entry));
            P("sizeof kvm_userspace_memory_region", sizeof(struct kvm_userspace_memory_region));
            P("sizeof kvm_irq_level", sizeof(struct kvm_irq_level));
            P("sizeof kvm_pit_config", sizeof(struct kvm_pit_config));
            P("sizeof kvm_translation", sizeof(struct kvm_translation));
            P("sizeof kvm_mp_state", sizeof(struct kvm_mp_state));
            P("sizeof kvm_msi", sizeof(struct kvm_msi));
            P("sizeof kvm_ioeventfd", sizeof(struct kvm_ioeventfd));
            P("sizeof kvm_irqfd", sizeof(struct kvm_irqfd));
            P("sizeof kvm_irq_routing", sizeof(struct kvm_irq_routing));
            P("sizeof kvm_irq_routing_entry", sizeof(struct kvm_irq_routing_entry));
            P("sizeof kvm_lapic_state", sizeof(struct kvm_lapic_state));
            P("sizeof kvm_vcpu_events", sizeof(struct kvm_vcpu_events));
            P("sizeof kvm_xsave", sizeof(struct kvm_xsave));
            P("sizeof kvm_xcr", sizeof(struct kvm_xcr));
            P("sizeof kvm_xcrs", sizeof(struct kvm_xcrs));
            P("sizeof kvm_irqchip", sizeof(struct kvm_irqchip));
            P("sizeof kvm_pic_state", sizeof(struct kvm_pic_state));
            P("sizeof kvm_ioapic_state", sizeof(struct kvm_ioapic_state));
            P("sizeof kvm_pit_channel_state", sizeof(struct kvm_pit_channel_state));
            P("sizeof kvm_pit_state2", sizeof(struct kvm_pit_state2));
            P("sizeof kvm_clock_data", sizeof(struct kvm_clock_data));
            P("sizeof kvm_dirty_log", sizeof(struct kvm_dirty_log));
            P("offsetof kvm_vcpu_events.interrupt", offsetof(struct kvm_vcpu_events, interrupt));
            P("offsetof kvm_vcpu_events.nmi", offsetof(struct kvm_vcpu_events, nmi));
            P("offsetof kvm_vcpu_events.sipi_vector", offsetof(struct kvm_vcpu_events, sipi_vector));
            P("offsetof kvm_vcpu_events.flags", offsetof(struct kvm_vcpu_events, flags));
            P("offsetof kvm_vcpu_events.smi", offsetof(struct kvm_vcpu_events, smi));
            P("offsetof kvm_vcpu_events.triple_fault", offsetof(struct kvm_vcpu_events, triple_fault));
            P("offsetof kvm_vcpu_events.exception_has_payload", offsetof(struct kvm_vcpu_events, exception_has_payload));
            P("offsetof kvm_vcpu_events.exception_payload", offsetof(struct kvm_vcpu_events, exception_payload));
            P("offsetof kvm_xcrs.xcrs", offsetof(struct kvm_xcrs, xcrs));
            P("offsetof kvm_xcrs.padding", offsetof(struct kvm_xcrs, padding));
            P("offsetof kvm_irqchip.chip", offsetof(struct kvm_irqchip, chip));
            P("offsetof kvm_ioapic_state.redirtbl", offsetof(struct kvm_ioapic_state, redirtbl));
            P("offsetof kvm_pit_channel_state.count_load_time", offsetof(struct kvm_pit_channel_state, count_load_time));
            P("offsetof kvm_pit_state2.flags", offsetof(struct kvm_pit_state2, flags));
            P("offsetof kvm_clock_data.realtime", offsetof(struct kvm_clock_data, realtime));
            P("offsetof kvm_clock_data.host_tsc", offsetof(struct kvm_clock_data, host_tsc));
            P("offsetof kvm_dirty_log.dirty_bitmap", offsetof(struct kvm_dirty_log, dirty_bitmap));
            P("KVM_APIC_REG_SIZE", KVM_APIC_REG_SIZE);
            P("KVM_MAX_XCRS", KVM_MAX_XCRS);
            P("KVM_IOAPIC_NUM_PINS", KVM_IOAPIC_NUM_PINS);
            P("KVM_IRQCHIP_PIC_MASTER", KVM_IRQCHIP_PIC_MASTER);
            P("KVM_MEM_LOG_DIRTY_PAGES", KVM_MEM_LOG_DIRTY_PAGES);
            P("KVM_VCPUEVENT_VALID_NMI_PENDING", KVM_VCPUEVENT_VALID_NMI_PENDING);
            P("KVM_VCPUEVENT_VALID_SIPI_VECTOR", KVM_VCPUEVENT_VALID_SIPI_VECTOR);
            P("KVM_VCPUEVENT_VALID_SHADOW", KVM_VCPUEVENT_VALID_SHADOW);
            P("KVM_VCPUEVENT_VALID_SMM", KVM_VCPUEVENT_VALID_SMM);
            P("KVM_VCPUEVENT_VALID_PAYLOAD", KVM_VCPUEVENT_VALID_PAYLOAD);
            P("KVM_VCPUEVENT_VALID_TRIPLE_FAULT", KVM_VCPUEVENT_VALID_TRIPLE_FAULT);
            P("KVM_PIT_FLAGS_HPET_LEGACY|KVM_PIT_FLAGS_SPEAKER_DATA_ON", KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON);
            P("KVM_CLOCK_TSC_STABLE", KVM_CLOCK_TSC_STABLE);
            P("KVM_CLOCK_REALTIME", KVM_CLOCK_REALTIME);
            P("KVM_CLOCK_HOST_TSC", KVM_CLOCK_HOST_TSC);
            P("KVM_MP_STATE_SIPI_RECEIVED", KVM_MP_STATE_SIPI_RECEIVED);
            P("KVM_CAP_PIT_STATE2", KVM_CAP_PIT_STATE2);
            P("KVM_CAP_ADJUST_CLOCK", KVM_CAP_ADJUST_CLOCK);
            P("KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS);
            P("KVM_CAP_XSAVE", KVM_CAP_XSAVE);
            P("KVM_CAP_XCRS", KVM_CAP_XCRS);
            P("KVM_CAP_TSC_CONTROL", KVM_CAP_TSC_CONTROL);
            P("KVM_CAP_GET_TSC_KHZ", KVM_CAP_GET_TSC_KHZ);
            P("KVM_CAP_KVMCLOCK_CTRL", KVM_CAP_KVMCLOCK_CTRL);
            P("KVM_CAP_XSAVE2", KVM_CAP_XSAVE2);
            P("KVM_GET_DIRTY_LOG", KVM_GET_DIRTY_LOG);
            P("KVM_GET_IRQCHIP", KVM_GET_IRQCHIP);
            P("KVM_SET_IRQCHIP", KVM_SET_IRQCHIP);
            P("KVM_SET_CLOCK", KVM_SET_CLOCK);
            P("KVM_GET_CLOCK", KVM_GET_CLOCK);
            P("KVM_GET_PIT2", KVM_GET_PIT2);
            P("KVM_SET_PIT2", KVM_SET_PIT2);
            P("KVM_GET_LAPIC", KVM_GET_LAPIC);
            P("KVM_SET_LAPIC", KVM_SET_LAPIC);
            P("KVM_GET_VCPU_EVENTS", KVM_GET_VCPU_EVENTS);
            P("KVM_SET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS);
            P("KVM_SET_TSC_KHZ", KVM_SET_TSC_KHZ);
            P("KVM_GET_TSC_KHZ", KVM_GET_TSC_KHZ);
            P("KVM_GET_XSAVE", KVM_GET_XSAVE);
            P("KVM_SET_XSAVE", KVM_SET_XSAVE);
            P("KVM_GET_XSAVE2", KVM_GET_XSAVE2);
            P("KVM_GET_XCRS", KVM_GET_XCRS);
            P("KVM_SET_XCRS", KVM_SET_XCRS);
            P("KVM_KVMCLOCK_CTRL", KVM_KVMCLOCK_CTRL);
            P("offsetof kvm_run.exit_reason", offsetof(struct kvm_run, exit_reason));
            P("offsetof kvm_run.io", offsetof(struct kvm_run, io));
            P("offsetof kvm_run.io.data_offset", offsetof(struct kvm_run, io.data_offset));
            P("offsetof kvm_run.mmio.len", offsetof(struct kvm_run, mmio.len));
            P("offsetof kvm_run.mmio.is_write", offsetof(struct kvm_run, mmio.is_write));
            P("offsetof kvm_run.internal.data", offsetof(struct kvm_run, internal.data));
            P("offsetof kvm_sregs.cr0", offsetof(struct kvm_sregs, cr0));
            P("offsetof kvm_sregs.apic_base", offsetof(struct kvm_sregs, apic_base));
            P("offsetof kvm_fpu.mxcsr", offsetof(struct kvm_fpu, mxcsr));
            P("offsetof kvm_ioeventfd.len", offsetof(struct kvm_ioeventfd, len));
            P("offsetof kvm_ioeventfd.fd", offsetof(struct kvm_ioeventfd, fd));
            P("offsetof kvm_ioeventfd.flags", offsetof(struct kvm_ioeventfd, flags));
            P("offsetof kvm_irqfd.flags", offsetof(struct kvm_irqfd, flags));
            P("offsetof kvm_irq_routing_entry.type", offsetof(struct kvm_irq_routing_entry, type));
            P("offsetof kvm_irq_routing_entry.u.irqchip.pin", offsetof(struct kvm_irq_routing_entry, u.irqchip.pin));
            P("offsetof kvm_irq_routing_entry.u.msi.address_hi", offsetof(struct kvm_irq_routing_entry, u.msi.address_hi));
            P("offsetof kvm_irq_routing_entry.u.msi.data", offsetof(struct kvm_irq_routing_entry, u.msi.data));
            P("KVM_IOEVENTFD_FLAG_DEASSIGN", KVM_IOEVENTFD_FLAG_DEASSIGN);
            P("KVM_IRQFD_FLAG_DEASSIGN", KVM_IRQFD_FLAG_DEASSIGN);
            P("KVM_IRQ_ROUTING_IRQCHIP", KVM_IRQ_ROUTING_IRQCHIP);
            P("KVM_IRQ_ROUTING_MSI", KVM_IRQ_ROUTING_MSI);
            P("KVM_IRQCHIP_PIC_SLAVE", KVM_IRQCHIP_PIC_SLAVE);
            P("KVM_IRQCHIP_IOAPIC", KVM_IRQCHIP_IOAPIC);
            P("KVM_CAP_IRQ_ROUTING", KVM_CAP_IRQ_ROUTING);
            P("KVM_CAP_IRQFD", KVM_CAP_IRQFD);
            P("KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD);
            P("KVM_CAP_SIGNAL_MSI", KVM_CAP_SIGNAL_MSI);
            P("KVM_GET_API_VERSION", KVM_GET_API_VERSION);
            P("KVM_CREATE_VM", KVM_CREATE_VM);
            P("KVM_GET_MSR_INDEX_LIST", KVM_GET_MSR_INDEX_LIST);
            P("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION);
            P("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE);
            P("KVM_GET_SUPPORTED_CPUID", KVM_GET_SUPPORTED_CPUID);
            P("KVM_CREATE_VCPU", KVM_CREATE_VCPU);
            P("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION);
            P("KVM_SET_TSS_ADDR", KVM_SET_TSS_ADDR);
            P("KVM_SET_IDENTITY_MAP_ADDR", KVM_SET_IDENTITY_MAP_ADDR);
            P("KVM_CREATE_IRQCHIP", KVM_CREATE_IRQCHIP);
            P("KVM_IRQ_LINE", KVM_IRQ_LINE);
            P("KVM_IRQFD", KVM_IRQFD);
            P("KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING);
            P("KVM_CREATE_PIT2", KVM_CREATE_PIT2);
            P("KVM_IOEVENTFD", KVM_IOEVENTFD);
            P("KVM_ENABLE_CAP", KVM_ENABLE_CAP);
            P("KVM_SIGNAL_MSI", KVM_SIGNAL_MSI);
            P("KVM_RUN", KVM_RUN);
            P("KVM_GET_REGS", KVM_GET_REGS);
            P("KVM_SET_REGS", KVM_SET_REGS);
            P("KVM_GET_SREGS", KVM_GET_SREGS);
            P("KVM_SET_SREGS", KVM_SET_SREGS);
            P("KVM_TRANSLATE", KVM_TRANSLATE);
            P("KVM_GET_MSRS", KVM_GET_MSRS);
            P("KVM_SET_MSRS", KVM_SET_MSRS);
            P("KVM_SET_SIGNAL_MASK", KVM_SET_SIGNAL_MASK);
            P("KVM_GET_FPU", KVM_GET_FPU);
            P("KVM_SET_FPU", KVM_SET_FPU);
            P("KVM_SET_CPUID2", KVM_SET_CPUID2);
            P("KVM_GET_MP_STATE", KVM_GET_MP_STATE);
            P("KVM_SET_MP_STATE", KVM_SET_MP_STATE);
            return 0;
        }
        """;

    private static Dictionary<string, ulong> CompileAndRunProbe()
    {
        string dir = Directory.CreateTempSubdirectory("kvmsharp-abi").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "probe.c"), ProbeSource);
            var (compileStatus, compileOutput) = Run("cc", $"-o {dir}/probe {dir}/probe.c", dir);
            Assert.True(compileStatus == 0,
                $"compiling the KVM ABI probe against linux/kvm.h failed (install gcc and linux-libc-dev): {compileOutput}");
            var (status, output) = Run($"{dir}/probe", "", dir);
            Assert.Equal(0, status);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('='))
                .ToDictionary(parts => parts[0], parts => ulong.Parse(parts[1]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Status, string Output) Run(string file, string arguments, string dir)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir,
            })!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }

    public static TheoryData<string, int> StructSizes => new()
    {
        { "sizeof kvm_run", Unsafe.SizeOf<KvmRun>() },
        { "sizeof kvm_regs", Unsafe.SizeOf<Registers>() },
        { "sizeof kvm_sregs", Unsafe.SizeOf<SpecialRegisters>() },
        { "sizeof kvm_segment", Unsafe.SizeOf<Segment>() },
        { "sizeof kvm_dtable", Unsafe.SizeOf<DescriptorTable>() },
        { "sizeof kvm_fpu", Unsafe.SizeOf<FpuState>() },
        { "sizeof kvm_cpuid2", Unsafe.SizeOf<KvmCpuid2Header>() },
        { "sizeof kvm_cpuid_entry2", Unsafe.SizeOf<KvmCpuidEntry2>() },
        { "sizeof kvm_msrs", Unsafe.SizeOf<KvmMsrsHeader>() },
        { "sizeof kvm_msr_entry", Unsafe.SizeOf<KvmMsrEntry>() },
        { "sizeof kvm_userspace_memory_region", Unsafe.SizeOf<KvmUserspaceMemoryRegion>() },
        { "sizeof kvm_irq_level", Unsafe.SizeOf<KvmIrqLevel>() },
        { "sizeof kvm_pit_config", Unsafe.SizeOf<KvmPitConfig>() },
        { "sizeof kvm_translation", Unsafe.SizeOf<KvmTranslation>() },
        { "sizeof kvm_mp_state", Unsafe.SizeOf<KvmMpState>() },
        { "sizeof kvm_msi", Unsafe.SizeOf<KvmMsi>() },
        { "sizeof kvm_ioeventfd", Unsafe.SizeOf<KvmIoeventfd>() },
        { "sizeof kvm_irqfd", Unsafe.SizeOf<KvmIrqfd>() },
        { "sizeof kvm_irq_routing", Unsafe.SizeOf<KvmIrqRoutingHeader>() },
        { "sizeof kvm_irq_routing_entry", Unsafe.SizeOf<KvmIrqRoutingEntry>() },
        { "sizeof kvm_lapic_state", Unsafe.SizeOf<KvmLapicState>() },
        { "sizeof kvm_vcpu_events", Unsafe.SizeOf<KvmVcpuEvents>() },
        { "sizeof kvm_xsave", KvmXsave.MinimumSize },
        { "sizeof kvm_xcr", Unsafe.SizeOf<KvmXcr>() },
        { "sizeof kvm_xcrs", Unsafe.SizeOf<KvmXcrs>() },
        { "sizeof kvm_irqchip", Unsafe.SizeOf<KvmIrqchip>() },
        { "sizeof kvm_pic_state", Unsafe.SizeOf<KvmPicState>() },
        { "sizeof kvm_ioapic_state", Unsafe.SizeOf<KvmIoapicState>() },
        { "sizeof kvm_pit_channel_state", Unsafe.SizeOf<KvmPitChannelState>() },
        { "sizeof kvm_pit_state2", Unsafe.SizeOf<KvmPitState2>() },
        { "sizeof kvm_clock_data", Unsafe.SizeOf<KvmClockData>() },
        { "sizeof kvm_dirty_log", Unsafe.SizeOf<KvmDirtyLog>() },
    };

    [Theory]
    [MemberData(nameof(StructSizes))]
    public void StructSizeMatchesTheKernel(string name, int ours) => Assert.Equal(Kernel.Value[name], (ulong)ours);

    [Fact]
    public unsafe void FieldOffsetsMatchTheKernel()
    {
        KvmRun run = default;
        byte* start = (byte*)&run;
        Assert.Equal(Kernel.Value["offsetof kvm_run.exit_reason"], (ulong)((byte*)&run.ExitReason - start));
        Assert.Equal(Kernel.Value["offsetof kvm_run.io"], (ulong)((byte*)&run.Io - start));
        Assert.Equal(Kernel.Value["offsetof kvm_run.io.data_offset"], (ulong)((byte*)&run.Io.DataOffset - start));
        Assert.Equal(Kernel.Value["offsetof kvm_run.mmio.len"], (ulong)((byte*)&run.Mmio.Length - start));
        Assert.Equal(Kernel.Value["offsetof kvm_run.mmio.is_write"], (ulong)((byte*)&run.Mmio.IsWrite - start));
        Assert.Equal(Kernel.Value["offsetof kvm_run.internal.data"], (ulong)((byte*)run.Internal.Data - start));
        SpecialRegisters sregs = default;
        Assert.Equal(Kernel.Value["offsetof kvm_sregs.cr0"], (ulong)((byte*)&sregs.Cr0 - (byte*)&sregs));
        Assert.Equal(Kernel.Value["offsetof kvm_sregs.apic_base"], (ulong)((byte*)&sregs.ApicBase - (byte*)&sregs));
        FpuState fpu = default;
        Assert.Equal(Kernel.Value["offsetof kvm_fpu.mxcsr"], (ulong)((byte*)&fpu.Mxcsr - (byte*)&fpu));
        KvmIoeventfd ioevent = default;
        Assert.Equal(Kernel.Value["offsetof kvm_ioeventfd.len"], (ulong)((byte*)&ioevent.Length - (byte*)&ioevent));
        Assert.Equal(Kernel.Value["offsetof kvm_ioeventfd.fd"], (ulong)((byte*)&ioevent.Fd - (byte*)&ioevent));
        Assert.Equal(Kernel.Value["offsetof kvm_ioeventfd.flags"], (ulong)((byte*)&ioevent.Flags - (byte*)&ioevent));
        KvmIrqfd irqfd = default;
        Assert.Equal(Kernel.Value["offsetof kvm_irqfd.flags"], (ulong)((byte*)&irqfd.Flags - (byte*)&irqfd));
        KvmIrqRoutingEntry route = default;
        byte* routeStart = (byte*)&route;
        Assert.Equal(Kernel.Value["offsetof kvm_irq_routing_entry.type"], (ulong)((byte*)&route.Type - routeStart));
        Assert.Equal(Kernel.Value["offsetof kvm_irq_routing_entry.u.irqchip.pin"], (ulong)((byte*)&route.Pin - routeStart));
        Assert.Equal(Kernel.Value["offsetof kvm_irq_routing_entry.u.msi.address_hi"], (ulong)((byte*)&route.AddressHigh - routeStart));
        Assert.Equal(Kernel.Value["offsetof kvm_irq_routing_entry.u.msi.data"], (ulong)((byte*)&route.Data - routeStart));
    }

    /// <summary>The structures of the state ioctls (saving and loading a VM), field by field where the layout has holes.</summary>
    [Fact]
    public unsafe void StateStructFieldOffsetsMatchTheKernel()
    {
        KvmVcpuEvents events = default;
        byte* e = (byte*)&events;
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.interrupt"], (ulong)(&events.InterruptInjected - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.nmi"], (ulong)(&events.NmiInjected - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.sipi_vector"], (ulong)((byte*)&events.SipiVector - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.flags"], (ulong)((byte*)&events.Flags - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.smi"], (ulong)(&events.SmiSmm - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.triple_fault"], (ulong)(&events.TripleFaultPending - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.exception_has_payload"], (ulong)(&events.ExceptionHasPayload - e));
        Assert.Equal(Kernel.Value["offsetof kvm_vcpu_events.exception_payload"], (ulong)((byte*)&events.ExceptionPayload - e));
        KvmXcrs xcrs = default;
        Assert.Equal(Kernel.Value["offsetof kvm_xcrs.xcrs"], (ulong)((byte*)&xcrs.Xcrs - (byte*)&xcrs));
        Assert.Equal(Kernel.Value["offsetof kvm_xcrs.padding"], (ulong)((byte*)xcrs.Padding - (byte*)&xcrs));
        KvmIrqchip irqchip = default;
        Assert.Equal(Kernel.Value["offsetof kvm_irqchip.chip"], (ulong)((byte*)&irqchip.Pic - (byte*)&irqchip));
        Assert.Equal(Kernel.Value["offsetof kvm_irqchip.chip"], (ulong)((byte*)&irqchip.Ioapic - (byte*)&irqchip));
        KvmIoapicState ioapic = default;
        Assert.Equal(Kernel.Value["offsetof kvm_ioapic_state.redirtbl"], (ulong)((byte*)&ioapic.RedirectionTable - (byte*)&ioapic));
        KvmPitChannelState channel = default;
        Assert.Equal(Kernel.Value["offsetof kvm_pit_channel_state.count_load_time"], (ulong)((byte*)&channel.CountLoadTime - (byte*)&channel));
        KvmPitState2 pit = default;
        Assert.Equal(Kernel.Value["offsetof kvm_pit_state2.flags"], (ulong)((byte*)&pit.Flags - (byte*)&pit));
        KvmClockData clock = default;
        Assert.Equal(Kernel.Value["offsetof kvm_clock_data.realtime"], (ulong)((byte*)&clock.Realtime - (byte*)&clock));
        Assert.Equal(Kernel.Value["offsetof kvm_clock_data.host_tsc"], (ulong)((byte*)&clock.HostTsc - (byte*)&clock));
        KvmDirtyLog log = default;
        Assert.Equal(Kernel.Value["offsetof kvm_dirty_log.dirty_bitmap"], (ulong)((byte*)&log.Bitmap - (byte*)&log));
    }

    public static TheoryData<string, ulong> Constants => new()
    {
        { "KVM_IOEVENTFD_FLAG_DEASSIGN", KvmIoeventfd.FlagDeassign }, { "KVM_IRQFD_FLAG_DEASSIGN", KvmIrqfd.FlagDeassign },
        { "KVM_APIC_REG_SIZE", KvmLapicState.Size }, { "KVM_MAX_XCRS", KvmXcrs.MaxXcrs }, { "KVM_IOAPIC_NUM_PINS", KvmIoapicState.PinCount },
        { "KVM_IRQCHIP_PIC_MASTER", KvmIrqchip.PicMaster }, { "KVM_MEM_LOG_DIRTY_PAGES", KvmMemoryFlags.LogDirtyPages },
        { "KVM_VCPUEVENT_VALID_NMI_PENDING", KvmVcpuEvents.ValidNmiPending }, { "KVM_VCPUEVENT_VALID_SIPI_VECTOR", KvmVcpuEvents.ValidSipiVector },
        { "KVM_VCPUEVENT_VALID_SHADOW", KvmVcpuEvents.ValidShadow }, { "KVM_VCPUEVENT_VALID_SMM", KvmVcpuEvents.ValidSmm },
        { "KVM_VCPUEVENT_VALID_PAYLOAD", KvmVcpuEvents.ValidPayload }, { "KVM_VCPUEVENT_VALID_TRIPLE_FAULT", KvmVcpuEvents.ValidTripleFault },
        { "KVM_PIT_FLAGS_HPET_LEGACY|KVM_PIT_FLAGS_SPEAKER_DATA_ON", KvmPitState2.KnownFlags },
        { "KVM_CLOCK_TSC_STABLE", KvmClockData.TscStable }, { "KVM_CLOCK_REALTIME", KvmClockData.RealtimeValid },
        { "KVM_CLOCK_HOST_TSC", KvmClockData.HostTscValid }, { "KVM_MP_STATE_SIPI_RECEIVED", KvmMpState.SipiReceived },
        { "KVM_CAP_PIT_STATE2", KvmCapability.PitState2 }, { "KVM_CAP_ADJUST_CLOCK", KvmCapability.AdjustClock },
        { "KVM_CAP_VCPU_EVENTS", KvmCapability.VcpuEvents }, { "KVM_CAP_XSAVE", KvmCapability.Xsave }, { "KVM_CAP_XCRS", KvmCapability.Xcrs },
        { "KVM_CAP_TSC_CONTROL", KvmCapability.TscControl }, { "KVM_CAP_GET_TSC_KHZ", KvmCapability.GetTscKhz },
        { "KVM_CAP_KVMCLOCK_CTRL", KvmCapability.KvmclockCtrl }, { "KVM_CAP_XSAVE2", KvmCapability.Xsave2 },
        { "KVM_IRQ_ROUTING_IRQCHIP", KvmIrqRoutingEntry.TypeIrqchip }, { "KVM_IRQ_ROUTING_MSI", KvmIrqRoutingEntry.TypeMsi },
        { "KVM_IRQCHIP_PIC_SLAVE", KvmIrqRoutingEntry.ChipPicSlave }, { "KVM_IRQCHIP_IOAPIC", KvmIrqRoutingEntry.ChipIoapic },
        { "KVM_CAP_IRQ_ROUTING", KvmCapability.IrqRouting }, { "KVM_CAP_IRQFD", KvmCapability.Irqfd },
        { "KVM_CAP_IOEVENTFD", KvmCapability.Ioeventfd }, { "KVM_CAP_SIGNAL_MSI", KvmCapability.SignalMsi },
    };

    [Theory]
    [MemberData(nameof(Constants))]
    public void ConstantMatchesTheKernel(string name, ulong ours) => Assert.Equal(Kernel.Value[name], ours);

    public static TheoryData<string, ulong> IoctlNumbers => new()
    {
        { "KVM_GET_API_VERSION", KvmIoctls.GetApiVersion }, { "KVM_CREATE_VM", KvmIoctls.CreateVm },
        { "KVM_GET_MSR_INDEX_LIST", KvmIoctls.GetMsrIndexList }, { "KVM_CHECK_EXTENSION", KvmIoctls.CheckExtension },
        { "KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.GetVcpuMmapSize }, { "KVM_GET_SUPPORTED_CPUID", KvmIoctls.GetSupportedCpuid },
        { "KVM_CREATE_VCPU", KvmIoctls.CreateVcpu }, { "KVM_SET_USER_MEMORY_REGION", KvmIoctls.SetUserMemoryRegion },
        { "KVM_SET_TSS_ADDR", KvmIoctls.SetTssAddr }, { "KVM_SET_IDENTITY_MAP_ADDR", KvmIoctls.SetIdentityMapAddr },
        { "KVM_CREATE_IRQCHIP", KvmIoctls.CreateIrqchip }, { "KVM_IRQ_LINE", KvmIoctls.IrqLine },
        { "KVM_IRQFD", KvmIoctls.Irqfd }, { "KVM_SET_GSI_ROUTING", KvmIoctls.SetGsiRouting }, { "KVM_CREATE_PIT2", KvmIoctls.CreatePit2 },
        { "KVM_IOEVENTFD", KvmIoctls.Ioeventfd }, { "KVM_ENABLE_CAP", KvmIoctls.EnableCap },
        { "KVM_SIGNAL_MSI", KvmIoctls.SignalMsi },
        { "KVM_RUN", KvmIoctls.Run }, { "KVM_GET_REGS", KvmIoctls.GetRegs }, { "KVM_SET_REGS", KvmIoctls.SetRegs },
        { "KVM_GET_SREGS", KvmIoctls.GetSregs }, { "KVM_SET_SREGS", KvmIoctls.SetSregs },
        { "KVM_TRANSLATE", KvmIoctls.Translate }, { "KVM_GET_MSRS", KvmIoctls.GetMsrs }, { "KVM_SET_MSRS", KvmIoctls.SetMsrs },
        { "KVM_SET_SIGNAL_MASK", KvmIoctls.SetSignalMask }, { "KVM_GET_FPU", KvmIoctls.GetFpu }, { "KVM_SET_FPU", KvmIoctls.SetFpu },
        { "KVM_SET_CPUID2", KvmIoctls.SetCpuid2 }, { "KVM_GET_MP_STATE", KvmIoctls.GetMpState }, { "KVM_SET_MP_STATE", KvmIoctls.SetMpState },
        { "KVM_GET_DIRTY_LOG", KvmIoctls.GetDirtyLog }, { "KVM_GET_IRQCHIP", KvmIoctls.GetIrqchip }, { "KVM_SET_IRQCHIP", KvmIoctls.SetIrqchip },
        { "KVM_SET_CLOCK", KvmIoctls.SetClock }, { "KVM_GET_CLOCK", KvmIoctls.GetClock }, { "KVM_GET_PIT2", KvmIoctls.GetPit2 },
        { "KVM_SET_PIT2", KvmIoctls.SetPit2 }, { "KVM_GET_LAPIC", KvmIoctls.GetLapic }, { "KVM_SET_LAPIC", KvmIoctls.SetLapic },
        { "KVM_GET_VCPU_EVENTS", KvmIoctls.GetVcpuEvents }, { "KVM_SET_VCPU_EVENTS", KvmIoctls.SetVcpuEvents },
        { "KVM_SET_TSC_KHZ", KvmIoctls.SetTscKhz }, { "KVM_GET_TSC_KHZ", KvmIoctls.GetTscKhz }, { "KVM_GET_XSAVE", KvmIoctls.GetXsave },
        { "KVM_SET_XSAVE", KvmIoctls.SetXsave }, { "KVM_GET_XSAVE2", KvmIoctls.GetXsave2 }, { "KVM_GET_XCRS", KvmIoctls.GetXcrs },
        { "KVM_SET_XCRS", KvmIoctls.SetXcrs }, { "KVM_KVMCLOCK_CTRL", KvmIoctls.KvmclockCtrl },
    };

    [Theory]
    [MemberData(nameof(IoctlNumbers))]
    public void IoctlNumberMatchesTheKernel(string name, ulong ours) => Assert.Equal(Kernel.Value[name], ours);
}
