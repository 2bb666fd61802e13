using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// Dirty-page logging on the software CPU (write tracking through its TLB): each collect names exactly the pages
/// the guest wrote since the last one, including through translations made writable before the log started or
/// before the last collect, and the page-table pages whose accessed/dirty bits the walks set. The guest uses no
/// stack, so nothing else is written.
/// </summary>
public class EmulatedDirtyLogTests
{
    private const uint Code = 0x1000, PageDirectory = 0x4000, PageTable = 0x5000;

    public enum Paging { Off, LargePagesPresetAccessed, SmallPages }

    private static byte[] Guest()
    {
        var a = new Assembler(32);
        a.mov(__dword_ptr[0x20000], 1);
        a.mov(__dword_ptr[0x21000], 2);
        a.mov(__byte_ptr[0x22FFF], 3);
        a.@out(0xE9, al);                      // exit 1
        a.mov(eax, __dword_ptr[0x23000]);
        a.mov(__dword_ptr[0x20004], 4);
        a.@out(0xE9, al);                      // exit 2
        a.mov(__dword_ptr[0x24000], 5);
        a.mov(eax, __dword_ptr[0x20000]);
        a.@out(0xE9, al);                      // exit 3
        a.mov(__dword_ptr[0x25000], 6);
        a.@out(0xE9, al);                      // exit 4
        a.mov(__dword_ptr[0x25008], 7);
        a.@out(0xE9, al);                      // exit 5
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        return stream.ToArray();
    }

    private sealed class Rig : IDisposable
    {
        public GuestMemory Memory { get; } = GuestMemory.Create(4 << 20);
        public IVirtualMachine Vm { get; }
        public IVcpu Vcpu { get; }

        public Rig(Paging paging)
        {
            Vm = new EmulatorAccelerator().CreateVirtualMachine(Memory, new VirtualMachineOptions(1, LegacyTimer: false));
            Vcpu = Vm.CreateVcpu(0);
            Memory.Write(new GuestAddress(Code), Guest());
            TinyGuest.StartFlat32(Vcpu, Code);
            if (paging == Paging.Off) return;
            if (paging == Paging.LargePagesPresetAccessed)
            {
                Memory.Write(new GuestAddress(PageDirectory), 0x83u | 0x20 | 0x40);   // one 4 MiB page, accessed and dirty already
            }
            else
            {
                Memory.Write(new GuestAddress(PageDirectory), PageTable | 0x3u);
                for (uint page = 0; page < 1024; page++) Memory.Write(new GuestAddress(PageTable + page * 4), page << 12 | 0x3);
            }
            Vcpu.GetSpecialRegisters(out var s);
            s.Cr3 = PageDirectory;
            s.Cr4 |= 1 << 4;
            s.Cr0 |= SpecialRegisters.Cr0Paging;
            Vcpu.SetSpecialRegisters(s);
        }

        public void RunToNextExit()
        {
            var exit = Vcpu.Run();
            Assert.Equal(VcpuExitReason.IoOut, exit.Reason);
        }

        public ulong[] Collect()
        {
            var bitmap = new DirtyPageBitmap(Memory.Regions);
            Vm.CollectDirtyPages(bitmap);
            return [.. bitmap.DirtyPages().Select(p => p.Value >> 12)];
        }

        public void Dispose()
        {
            Vcpu.Dispose();
            Vm.Dispose();
            Memory.Dispose();
        }
    }

    [Theory]
    [InlineData(Paging.Off)]
    [InlineData(Paging.LargePagesPresetAccessed)]
    [InlineData(Paging.SmallPages)]
    public void CollectNamesExactlyThePagesWrittenSinceTheLastOne(Paging paging)
    {
        using var rig = new Rig(paging);
        // With 4 KiB pages, the first access to a page sets its PTE's accessed bit (and a write its dirty bit): the
        // page table is written then. Its directory entry was marked accessed by the first round, before the log.
        ulong[] pageTable = paging == Paging.SmallPages ? [PageTable >> 12] : [];

        rig.RunToNextExit();                                   // pages 0x20–0x22 written, the log not yet on
        rig.Vm.StartDirtyLog();
        rig.RunToNextExit();                                   // reads 0x23, writes 0x20 through a translation made writable before the start
        Assert.Equal([.. pageTable, 0x20], rig.Collect().Order().ToArray());
        rig.RunToNextExit();                                   // writes 0x24, reads 0x20
        Assert.Equal([.. pageTable, 0x24], rig.Collect().Order().ToArray());

        rig.Vm.StopDirtyLog();
        rig.RunToNextExit();                                   // writes 0x25 while the log is off
        rig.Vm.StartDirtyLog();
        Assert.Empty(rig.Collect());
        rig.RunToNextExit();                                   // writes 0x25 again: its translation was writable before the start
        Assert.Equal([0x25], rig.Collect());
    }

    [Fact]
    public void CollectOrsIntoWhatTheBitmapHolds()
    {
        using var rig = new Rig(Paging.LargePagesPresetAccessed);
        rig.Vm.StartDirtyLog();
        rig.RunToNextExit();
        var bitmap = new DirtyPageBitmap(rig.Memory.Regions);
        bitmap.Mark(0x30000, 1);                               // a device's write, say
        rig.Vm.CollectDirtyPages(bitmap);
        Assert.Equal([0x20UL, 0x21, 0x22, 0x30], bitmap.DirtyPages().Select(p => p.Value >> 12));
    }

    [Fact]
    public void CollectWhileTheVcpuRunsIsRefused()
    {
        using var rig = new Rig(Paging.Off);
        rig.Memory.Write(new GuestAddress(Code), new byte[] { 0xFA, 0xF4 });   // CLI; HLT: halts inside Run until kicked
        rig.Vm.StartDirtyLog();
        var runner = new Thread(() => rig.Vcpu.Run());
        runner.Start();
        try
        {
            bool refused = SpinWait.SpinUntil(() =>
            {
                try
                {
                    rig.Collect();
                    return false;
                }
                catch (InvalidOperationException)
                {
                    return true;
                }
            }, TimeSpan.FromSeconds(30));
            Assert.True(refused, "collecting while the vCPU was inside Run was not refused");
        }
        finally
        {
            rig.Vcpu.Kick();
            runner.Join();
        }
    }
}
