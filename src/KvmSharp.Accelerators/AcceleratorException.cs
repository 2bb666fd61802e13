namespace KvmSharp.Accelerators;

/// <summary>
/// An accelerator cannot be used or cannot go on (no /dev/kvm, no permission, an unsupported host).
/// The message is one line for the user that says what to do.
/// </summary>
public sealed class AcceleratorException(string message, Exception? inner = null) : Exception(message, inner);
