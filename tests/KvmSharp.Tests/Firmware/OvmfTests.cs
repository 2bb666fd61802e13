using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;
using KvmSharp.Machine.State;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>Debian's OVMF (UEFI) from the reset vector on the software CPU, with its variables in the VM's own flash file.</summary>
public class OvmfTests
{
    private static void WaitFor(CapturingConsole console, RunningMachine machine, string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!console.Output.Contains(text, StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        Assert.True(console.Output.Contains(text, StringComparison.Ordinal),
            $"no '{text}'; exit: {(machine.Exit.IsCompleted ? machine.Exit.Result.ToString() : "none")}; console:\n{(console.Output.Length > 4000 ? console.Output[^4000..] : console.Output)}");
    }

    [Fact]
    public void OvmfReachesItsShellKeepsItsVariablesInTheVmsStoreAndGoesOnAfterARestore()
    {
        Assert.SkipUnless(File.Exists(FirmwareConfig.DebianOvmfCode) && File.Exists(FirmwareConfig.DebianOvmfVars), "Debian's ovmf package is not installed");
        string dir = Directory.CreateTempSubdirectory("kvmsharp-ovmf").FullName;
        try
        {
            string vars = Path.Combine(dir, "vm_VARS.fd");
            var config = new MachineConfig { Firmware = new FirmwareConfig(FirmwareKind.Uefi, VarsPath: vars), MemorySize = 256UL << 20 };
            var console = new CapturingConsole();
            string state = Path.Combine(dir, "vm.state"), memory = Path.Combine(dir, "vm.mem");
            byte[] savedVariables;
            using (var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build())
            {
                machine.Start();
                // SEC, PEI and DXE ran, BDS found no disk and started the built-in shell, which waits 5 s for a key.
                WaitFor(console, machine, "UEFI Interactive Shell", TimeSpan.FromMinutes(3));
                WaitFor(console, machine, "startup.nsh", TimeSpan.FromMinutes(1));
                console.Type("\r");
                WaitFor(console, machine, "Shell> ", TimeSpan.FromMinutes(1));
                console.Type("echo kvmsharp-uefi-one\r");
                WaitFor(console, machine, "kvmsharp-uefi-one\r\n", TimeSpan.FromMinutes(1));
                Assert.True(machine.Pause(TimeSpan.FromSeconds(10)));
                MachineSnapshot.Create(machine, state, memory);
                savedVariables = machine.SaveState().Platform.FirmwareVariables!.Contents;
            }
            // The store was made from the template and OVMF wrote its boot options into it, through the flash's
            // program and erase commands, into the file: the file is what the flash held.
            byte[] template = File.ReadAllBytes(FirmwareConfig.DebianOvmfVars);
            byte[] written = File.ReadAllBytes(vars);
            Assert.Equal(template.Length, written.Length);
            Assert.NotEqual(template, written);
            Assert.Equal(savedVariables, written);
            Assert.True(System.Text.Encoding.Unicode.GetString(written).Contains("Boot0001", StringComparison.Ordinal), "no Boot0001 variable in the store");

            var read = MachineSnapshot.ReadState(state);
            var after = new CapturingConsole();
            using var restored = MachineSnapshot.Load(read, memory, new MachineBuilder(read.Config).WithConsole(after).WithAccelerator(new EmulatorAccelerator(_ => { })));
            restored.Resume();
            after.Type("echo kvmsharp-uefi-two\r");
            WaitFor(after, restored, "kvmsharp-uefi-two\r\n", TimeSpan.FromMinutes(1));
            restored.Stop();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
