using System.CommandLine;
using KvmSharp.Cli.Commands;

var root = new RootCommand("KvmSharp: a virtual machine monitor and manager for Linux, in C#")
{
    RunCommand.Create(),
    HostCheckCommand.Create(),
    GuestCommand.Create(),
    ImageCommand.Create(),
    ManagerCommands.Daemon(),
    ManagerCommands.Virsh(),
};
return root.Parse(args).Invoke();
