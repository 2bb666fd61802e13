using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;

namespace KvmSharp.Api;

// Snapshots as Firecracker's: PUT /snapshot/create on a paused machine, PUT /snapshot/load before any boot. Ours
// besides: PUT /disk-snapshots/{name} takes an internal snapshot in every writable qcow2 disk of the paused machine,
// DELETE /disk-snapshots/{name} deletes it again (a manager's full-system snapshot keeps the disks so).
public sealed partial class VmApi
{
    private async Task PutSnapshotCreate(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.SnapshotCreateParams);
        if (request.SnapshotType is not (null or "Full"))
            throw new ApiFault($"snapshot_type: '{request.SnapshotType}' is not supported; only \"Full\"");
        if (request.Version is not null) throw new ApiFault("version: snapshots are written in this VMM's own format version only");
        _machine.CreateSnapshot(request.SnapshotPath, request.MemFilePath);
        await NoContent(context);
    }

    private async Task PutSnapshotLoad(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.SnapshotLoadParams);
        string memory = (request.MemBackend, request.MemFilePath) switch
        {
            ({ BackendType: "File" } backend, null) => backend.BackendPath,
            ({ } backend, null) => throw new ApiFault($"mem_backend.backend_type: '{backend.BackendType}' is not supported; only \"File\""),
            (null, { } path) => path,
            (null, null) => throw new ApiFault("the snapshot's memory is missing: give mem_backend or mem_file_path"),
            _ => throw new ApiFault("give mem_backend or mem_file_path, not both"),
        };
        _machine.LoadSnapshot(request.SnapshotPath, memory, request.ResumeVm);
        lock (_lock) _bootSourceGiven = true;
        await NoContent(context);
    }

    private Task PutDiskSnapshot(HttpExchange context, string? name) =>
        Write(context, new DiskSnapshotResult { Images = _machine.CreateDiskSnapshots(name!) }, Json.DiskSnapshotResult);

    private Task DeleteDiskSnapshot(HttpExchange context, string? name) =>
        Write(context, new DiskSnapshotResult { Images = _machine.DeleteDiskSnapshots(name!) }, Json.DiskSnapshotResult);
}
