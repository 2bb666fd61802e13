namespace KvmSharp.Machine.Migration;

/// <summary>A migration that could not go on: the peer, the connection or the stream failed. The message is one line for the user.</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);
