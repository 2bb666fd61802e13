namespace KvmSharp.Machine.Images;

/// <summary>The default guest could not be fetched or built; the message is one line for the user.</summary>
public sealed class GuestImageException(string message) : Exception(message);
