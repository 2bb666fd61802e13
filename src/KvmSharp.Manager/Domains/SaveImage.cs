using System.Buffers.Binary;
using System.Text;
using KvmSharp.State;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// What <c>virsh save DOMAIN FILE</c> leaves: FILE holds the domain's XML and the VMM's machine state (one checked
/// envelope, <see cref="StateFile"/>), and FILE.mem the guest memory, sparse, which a restore maps copy-on-write.
/// Two files rather than one because the memory is mapped straight from its own file (restore time does not grow
/// with RAM) and the VMM writes it sparse; keep them together.
/// </summary>
public static class SaveImage
{
    private const uint Kind = 2, Version = 1;

    public static string MemoryPath(string path) => path + ".mem";

    /// <summary>Writes FILE (atomically) from the domain's XML and the VMM's state file; FILE.mem is the VMM's already.</summary>
    public static void Write(string path, string domainXml, string vmmStatePath)
    {
        byte[] xml = Encoding.UTF8.GetBytes(domainXml);
        byte[] state = File.ReadAllBytes(vmmStatePath);
        var payload = new byte[8 + xml.Length + state.Length];
        BinaryPrimitives.WriteInt32LittleEndian(payload, xml.Length);
        xml.CopyTo(payload, 4);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(4 + xml.Length), state.Length);
        state.CopyTo(payload, 8 + xml.Length);
        StateFile.Write(path, payload, Kind, Version);
    }

    /// <summary>Reads and checks FILE: the domain's XML and the VMM's state file bytes. A bad file is one line, nothing else.</summary>
    public static (string DomainXml, byte[] VmmState) Read(string path)
    {
        ReadOnlyMemory<byte> payload;
        try { payload = StateFile.Read(path, Kind, Version); }
        catch (Exception e) when (e is StateException or IOException or UnauthorizedAccessException)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"'{path}' is not a KvmSharp save image: {e.Message}");
        }
        var bytes = payload.Span;
        int xmlLength = bytes.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(bytes) : -1;
        if (xmlLength < 0 || xmlLength > bytes.Length - 8)
            throw new ManagerException(ManagerError.OperationFailed, $"'{path}' is a damaged save image (domain XML length {xmlLength})");
        string xml = Encoding.UTF8.GetString(bytes.Slice(4, xmlLength));
        int stateLength = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 + xmlLength)..]);
        if (stateLength < 0 || stateLength != bytes.Length - 8 - xmlLength)
            throw new ManagerException(ManagerError.OperationFailed, $"'{path}' is a damaged save image (state length {stateLength})");
        if (!File.Exists(MemoryPath(path)))
            throw new ManagerException(ManagerError.OperationFailed, $"the save image's memory file '{MemoryPath(path)}' is missing");
        return (xml, bytes.Slice(8 + xmlLength, stateLength).ToArray());
    }
}
