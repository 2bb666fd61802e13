namespace KvmSharp.Native.Net;

/// <summary>A tap device could not be opened or set up; the message is one line for the user.</summary>
public sealed class TapException(string message) : IOException(message);
