using System.Text;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>A grub.cfg for a machine whose only console is COM1: GRUB on the serial line, one entry, no wait.</summary>
public static class GrubMenu
{
    public static string SerialSingleEntry(string title, string kernel, string? initrd, string commandLine)
    {
        if (new[] { title, kernel, initrd ?? "", commandLine }.Any(s => s.Contains('\n') || s.Contains('\'')))
            throw new ArgumentException("menu values are one line without single quotes");
        var menu = new StringBuilder()
            .Append("serial --unit=0 --speed=115200\n")
            .Append("terminal_input serial\nterminal_output serial\n")
            .Append("set timeout=0\n")
            .Append($"menuentry '{title}' {{\n")
            .Append($"  linux {kernel} {commandLine}\n");
        if (initrd is not null) menu.Append($"  initrd {initrd}\n");
        return menu.Append("}\n").ToString();
    }
}
