using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Native.Libc;
using KvmSharp.Storage;

namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// virtio-blk (virtio 1.2 §5.2): one request queue served on the device's own <see cref="DeviceEventLoop"/>
/// thread, requests parsed by <see cref="BlockRequestHandler"/> against an <see cref="IBlockBackend"/> (a raw
/// file or a qcow2 image). Offers SEG_MAX, BLK_SIZE, FLUSH, and DISCARD/WRITE_ZEROES on writable disks or
/// RO on read-only ones; not SIZE_MAX (no per-segment limit), GEOMETRY, TOPOLOGY, CONFIG_WCE or MQ.
/// The device owns the backend and disposes it.
/// </summary>
public sealed class VirtioBlockDevice : IVirtioDevice
{
    private readonly IBlockBackend _backend;
    private readonly BlockRequestHandler _handler;
    private readonly byte[] _config;
    private readonly Action<string> _notice;
    private readonly string _name;
    private DeviceEventLoop? _loop;
    private VirtioActivation? _activation;
    private RequestBuffers? _buffers;
    private volatile bool _broken;
    private bool _hostErrorReported;

    /// <param name="backend">The disk; the device disposes it.</param>
    /// <param name="serial">GET_ID's answer: at most 20 ASCII bytes, or null for none.</param>
    /// <param name="notice">One-line messages for the user (a host I/O error, once).</param>
    /// <param name="name">Names the device's thread and its notices, e.g. "virtio-blk0".</param>
    public VirtioBlockDevice(IBlockBackend backend, string? serial, Action<string> notice, string name = "virtio-blk")
    {
        if (serial is not null && !IsValidSerial(serial))
            throw new ArgumentException($"serial '{serial}' must be at most 20 printable ASCII characters", nameof(serial));
        _backend = backend;
        _notice = notice;
        _name = name;
        _config = BlockConfigSpace.Build((ulong)backend.Size >> BlockLimits.SectorShift);
        _handler = new BlockRequestHandler(backend, BlockRequestHandler.EncodeId(serial), OnHostError);
        DeviceFeatures = BlockFeatures.SegMax | BlockFeatures.BlockSize | BlockFeatures.Flush
            | (backend.ReadOnly ? BlockFeatures.ReadOnly : BlockFeatures.Discard | BlockFeatures.WriteZeroes);
    }

    /// <summary>
    /// Opens a disk image for a guest: <paramref name="format"/> "raw", "qcow2" or null to probe. The image is
    /// locked (flock: exclusive when writable, shared when read-only) so a second VMM cannot open it for
    /// writing at the same time. Throws <see cref="ImageFormatException"/> (an IOException) with one clear
    /// line for a missing, locked or malformed image (or a qcow2 image named as raw), and <see cref="ArgumentException"/> for a bad serial.
    /// </summary>
    public static VirtioBlockDevice Open(string path, string? format, bool readOnly, string? serial, Action<string> notice, string name = "virtio-blk")
    {
        // A qcow2 file given as raw would hand the guest the image's metadata to read and overwrite:
        // almost always a slip in the command line, so refuse it rather than guess.
        if (format == "raw" && DiskImage.Probe(path) == "qcow2")
            throw new ImageFormatException($"'{path}' is a qcow2 image, not raw; use format=qcow2 (or leave format out)");
        var backend = DiskImage.Open(path, format, readOnly);
        try
        {
            return new VirtioBlockDevice(backend, serial, notice, name);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>GET_ID returns 20 bytes (§5.2.6.1); we keep to printable ASCII so the guest's sysfs serial is readable.</summary>
    public static bool IsValidSerial(string serial) =>
        serial.Length <= BlockLimits.IdSize && serial.All(c => c is >= ' ' and <= '~');

    public VirtioDeviceType DeviceType => VirtioDeviceType.Block;
    public ulong DeviceFeatures { get; }
    public IReadOnlyList<ushort> QueueSizes { get; } = [BlockLimits.QueueSize];
    public int ConfigSize => BlockConfigSpace.Size;

    public void ReadConfig(int offset, Span<byte> data) => _config.AsSpan(offset, data.Length).CopyTo(data);

    /// <summary>Every field is read-only without CONFIG_WCE (§5.2.4): writes are ignored.</summary>
    public void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

    public void Activate(VirtioActivation activation)
    {
        Reset();
        _activation = activation;
        _buffers = new RequestBuffers(activation.Memory);
        _broken = false;
        // Last resort: anything but a VirtQueueException escaping the request code is our bug, not the guest's.
        var loop = new DeviceEventLoop(_name, e =>
        {
            _notice($"{_name}: unexpected {e.GetType().Name}: {e.Message}");
            MarkBroken($"{_name}: unexpected {e.GetType().Name}: {e.Message}");
        });
        for (int i = 0; i < activation.Queues.Count && i < activation.Notifiers.Count; i++)
        {
            int queue = i;
            var notifier = activation.Notifiers[i];
            loop.Watch(notifier.Handle, LibcConstants.POLLIN, _ =>
            {
                notifier.Drain();
                Serve(queue);
            });
        }
        _loop = loop;
        loop.Start();
        // The driver may have made requests available before DRIVER_OK.
        loop.Post(() =>
        {
            for (int i = 0; i < activation.Queues.Count; i++) Serve(i);
        });
    }

    public void Reset()
    {
        _loop?.Dispose();
        _loop = null;
        _activation = null;
        _buffers = null;
        _broken = false;
    }

    public void Dispose()
    {
        Reset();
        _backend.Dispose();
    }

    /// <summary>Serves queue <paramref name="index"/> until it is empty; on the loop thread only.</summary>
    private void Serve(int index)
    {
        var activation = _activation;
        var buffers = _buffers;
        if (_broken || activation is null || buffers is null) return;
        var queue = activation.Queues[index];
        bool completed = false;
        try
        {
            while (!_broken && queue.TryPopAvailable(out var chain))
            {
                ushort head = chain.Head;
                buffers.Load(ref chain);
                if (_handler.Handle(buffers) is not { } written)
                {
                    MarkBroken($"{_name}: a request has no writable status byte to answer in");
                    break;
                }
                queue.AddUsed(head, written);
                completed = true;
            }
        }
        catch (VirtQueueException e)
        {
            MarkBroken($"{_name}: {e.Message}");
        }
        try
        {
            if (completed) activation.NotifyUsed(index);
        }
        catch (VirtQueueException e)
        {
            MarkBroken($"{_name}: {e.Message}");
        }
    }

    private void MarkBroken(string reason)
    {
        if (_broken) return;
        _broken = true;
        _activation?.Interrupts.MarkNeedsReset(reason);
    }

    private void OnHostError(string message)
    {
        if (_hostErrorReported) return;
        _hostErrorReported = true;
        _notice($"{_name}: host I/O error, the guest gets I/O errors: {message}");
    }
}
