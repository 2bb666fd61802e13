namespace KvmSharp.Manager.Domains;

/// <summary>
/// Why a manager call failed. The values are libvirt's virErrorNumber (include/libvirt/virterror.h, read from
/// python3-libvirt 9.0), because clients choose fallbacks by them: NoSupport makes virsh try an older procedure.
/// </summary>
public enum ManagerError
{
    InternalError = 1,
    NoSupport = 3,
    InvalidArg = 8,
    OperationFailed = 9,
    XmlError = 27,
    DomainExists = 28,
    OperationDenied = 29,
    NoDomain = 42,
    NoNetwork = 43,
    NoStoragePool = 49,
    NoStorageVol = 50,
    OperationInvalid = 55,
    ConfigUnsupported = 67,
    NoDomainSnapshot = 72,
    OperationUnsupported = 84,
    StorageVolExist = 90,
}

/// <summary>A manager call refused or failed; the message is one line for the user (virsh prints it verbatim).</summary>
public sealed class ManagerException(ManagerError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public ManagerError Error { get; } = error;
}
