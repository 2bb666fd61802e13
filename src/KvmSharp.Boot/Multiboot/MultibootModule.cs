namespace KvmSharp.Boot.Multiboot;

/// <summary>A boot module (initrd, driver, …) handed to a multiboot kernel with its own string (Multiboot 0.6.96 §3.3, mods_*).</summary>
public sealed record MultibootModule(ReadOnlyMemory<byte> Contents, string CommandLine);
