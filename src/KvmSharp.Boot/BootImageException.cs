namespace KvmSharp.Boot;

/// <summary>
/// A guest image (kernel, initrd, multiboot module) that cannot be booted: wrong format, too old, truncated,
/// inconsistent, or too big for guest RAM. The message is one line that says what is wrong and what to do;
/// front ends print it as it is. Every such image is user input, never a host bug.
/// </summary>
public sealed class BootImageException(string message) : Exception(message);
