namespace KvmSharp.Storage;

/// <summary>
/// A request the disk cannot serve: past the end, negative, or a write to a read-only disk.
/// The device answers it with an I/O error status; it is the guest's mistake, not the host's.
/// </summary>
public sealed class BlockRequestException(string message) : IOException(message);

/// <summary>A disk image whose metadata is malformed, inconsistent, or uses a feature we do not support.</summary>
public sealed class ImageFormatException(string message) : IOException(message);
