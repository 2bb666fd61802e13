using System.Net.Sockets;
using System.Text;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Machine;

/// <summary>The --console socket and pty backends carry bytes both ways between a host client and COM1.</summary>
public class ConsoleBackendTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-console").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Polls COM1 and echoes each byte (no interrupts); the backends need only a CPU, so it runs on the software CPU; exits through port 0xF4 after a newline.</summary>
    private static byte[] PollingEchoGuest() => MultibootFlatImage.Build(a =>
    {
        var wait = a.CreateLabel();
        a.Label(ref wait);
        a.mov(dx, TinyGuests.Com1 + 5);
        a.@in(al, dx);
        a.test(al, 1);                 // LSR.DR: a received byte is waiting
        a.jz(wait);
        a.mov(dx, TinyGuests.Com1);
        a.@in(al, dx);
        a.@out(dx, al);
        a.cmp(al, (byte)'\n');
        a.jne(wait);
        a.mov(dx, 0xF4);
        a.@out(dx, al);
    });

    private RunningMachine Build(ConsoleConfig console, List<string>? notices = null)
    {
        string kernel = Path.Combine(_dir, "echo.bin");
        File.WriteAllBytes(kernel, PollingEchoGuest());
        var config = new MachineConfig { Kernel = new KernelConfig(kernel), MemorySize = 64UL << 20, DebugExitPort = 0xF4, Console = console };
        return new MachineBuilder(config).WithAccelerator(new EmulatorAccelerator(_ => { })).WithNotices(n => notices?.Add(n)).Build();
    }

    [Fact]
    public void SocketConsoleEchoesThroughTheGuest()
    {
        string path = Path.Combine(_dir, "console.sock");
        using var machine = Build(new ConsoleConfig(ConsoleKind.Socket, path));
        machine.Start();
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        client.ReceiveTimeout = 30_000;
        // The backend accepts the client on its pump thread; bytes sent before that wait in the socket.
        client.Send("over the socket\n"u8);
        var received = new StringBuilder();
        var buffer = new byte[64];
        while (!received.ToString().EndsWith('\n'))
        {
            int n = client.Receive(buffer);
            Assert.True(n > 0, $"the console closed early; got '{received}'");
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        Assert.Equal("over the socket\n", received.ToString());
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Equal(MachineExitReason.DebugExit, machine.Exit.Result.Reason);
    }

    [Fact]
    public void ASocketConsoleNeverReplacesAFileThatIsNotASocket()
    {
        string path = Path.Combine(_dir, "notes.txt");
        File.WriteAllText(path, "keep me");

        var e = Assert.Throws<IOException>(() => Build(new ConsoleConfig(ConsoleKind.Socket, path)).Dispose());

        Assert.Equal($"console: '{path}' exists and is not a socket; refusing to replace it", e.Message);
        Assert.Equal("keep me", File.ReadAllText(path));
    }

    [Fact]
    public void PtyConsoleEchoesThroughTheGuest()
    {
        var notices = new List<string>();
        using var machine = Build(new ConsoleConfig(ConsoleKind.Pty), notices);
        string? ptyPath = notices.Select(n => n.Split("console on ", 2)).Where(p => p.Length == 2).Select(p => p[1]).FirstOrDefault();
        Assert.NotNull(ptyPath);
        Assert.StartsWith("/dev/pts/", ptyPath);
        using var pty = new FileStream(ptyPath, FileMode.Open, FileAccess.ReadWrite);
        machine.Start();
        pty.Write("over the pty\n"u8);
        pty.Flush();
        var received = new StringBuilder();
        var buffer = new byte[64];
        var readTask = Task.Run(() =>
        {
            while (!received.ToString().EndsWith('\n'))
            {
                int n = pty.Read(buffer, 0, buffer.Length);
                if (n <= 0) break;
                received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
        }, TestContext.Current.CancellationToken);
        Assert.True(readTask.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), $"no echo from the pty; got '{received}'");
        Assert.Equal("over the pty\n", received.ToString());
        Assert.True(machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }
}
