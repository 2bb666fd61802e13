using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Images;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine;

/// <summary>What a guest transmits on COM2 reaches the output the builder attached there, and not COM1's console.</summary>
public class ExecStatusWiringTests
{
    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void AStatusLineOnCom2ReachesTheExecStatusChannel(string accelerator)
    {
        const ushort com2 = 0x2F8;
        byte[] guest = MultibootFlatImage.Build(a =>
        {
            a.mov(dx, com2);
            foreach (char c in "exit-status 42\r\n")
            {
                a.mov(al, (byte)c);
                a.@out(dx, al);      // THR with DLAB clear: the 16550 passes the byte straight to its output
            }
            TinyGuests.EmitDebugExit(a, 0xF4, 0);
        });
        var status = new ExecStatusChannel();
        using var machine = new TestMachine(guest, build: b => b.WithSerialOutput(DefaultGuestCommandLine.StatusComPort, status), accelerator: accelerator);
        var exit = machine.RunToEnd();
        Assert.Equal(1, exit.ExitStatus);
        Assert.Equal(42, status.Status);
        Assert.Equal("", machine.Console.Output);
    }
}
