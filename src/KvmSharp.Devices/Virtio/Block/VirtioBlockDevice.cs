using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.State;
using KvmSharp.Storage;

namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// virtio-blk (virtio 1.2 §5.2): one request queue served on the device's own <see cref="DeviceEventLoop"/>
/// thread (the life cycle of <see cref="QueueServingDevice"/>), requests parsed by <see cref="BlockRequestHandler"/> against an <see cref="IBlockBackend"/> (a raw
/// file or a qcow2 image). Offers SEG_MAX, BLK_SIZE, FLUSH, and DISCARD/WRITE_ZEROES on writable disks or
/// RO on read-only ones; not SIZE_MAX (no per-segment limit), GEOMETRY, TOPOLOGY, CONFIG_WCE or MQ.
/// The device owns the backend and disposes it. A pause parks the device thread between requests: every request
/// taken has completed (data, status byte, used entry) and the rest wait in the ring for the resume.
/// A <see cref="RateLimiter"/> (Firecracker's: ops = requests, bandwidth = data bytes) holds requests in the ring
/// while it has no tokens: the device stops popping and a loop timer serves the queue again when they are there.
/// </summary>
public sealed class VirtioBlockDevice : QueueServingDevice, IStateful<VirtioBlockState>
{
    private readonly IBlockBackend _backend;
    private readonly BlockRequestHandler _handler;
    private readonly byte[] _config;
    private RequestBuffers? _buffers;
    private DeviceTimer? _throttleTimer;
    private int _hostErrorReported;

    /// <param name="backend">The disk; the device disposes it.</param>
    /// <param name="serial">GET_ID's answer: at most 20 ASCII bytes, or null for none.</param>
    /// <param name="notice">One-line messages for the user (a host I/O error, once).</param>
    /// <param name="name">Names the device's thread and its notices, e.g. "virtio-blk0".</param>
    public VirtioBlockDevice(IBlockBackend backend, string? serial, Action<string> notice, string name = "virtio-blk")
        : base(name, notice)
    {
        if (serial is not null && !IsValidSerial(serial))
            throw new ArgumentException($"serial '{serial}' must be at most 20 printable ASCII characters", nameof(serial));
        _backend = backend;
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

    public override VirtioDeviceType DeviceType => VirtioDeviceType.Block;
    public override ulong DeviceFeatures { get; }
    public override IReadOnlyList<ushort> QueueSizes { get; } = [BlockLimits.QueueSize];
    public override int ConfigSize => BlockConfigSpace.Size;

    public override void ReadConfig(int offset, Span<byte> data) => _config.AsSpan(offset, data.Length).CopyTo(data);

    /// <summary>Every field is read-only without CONFIG_WCE (§5.2.4): writes are ignored.</summary>
    public override void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

    /// <summary>The disk's rate limiter (unlimited unless configured); the API may change its buckets at run time.</summary>
    public RateLimiter RateLimiter { get; private set; } = new(new RateLimiterConfig());

    /// <summary>Limits the disk with <paramref name="config"/> (before the guest runs).</summary>
    public void LimitRate(RateLimiterConfig config) => RateLimiter = new RateLimiter(config);

    public VirtioBlockState SaveState() => new()
    {
        CapacitySectors = (ulong)_backend.Size >> BlockLimits.SectorShift,
        DeviceFeatures = DeviceFeatures,
        RateLimiter = RateLimiter.SaveState(),
    };

    /// <summary>Refuses a state saved with a disk of another size, or read-only where this one is writable (or the reverse).</summary>
    public void RestoreState(VirtioBlockState state)
    {
        StateCheck.NotNull(state, "block");
        var mine = SaveState();
        StateCheck.That(state.CapacitySectors == mine.CapacitySectors, "block.CapacitySectors",
            $"the guest saw a disk of {state.CapacitySectors} sectors, this one has {mine.CapacitySectors}");
        StateCheck.That(state.DeviceFeatures == mine.DeviceFeatures, "block.DeviceFeatures",
            $"the guest saw features 0x{state.DeviceFeatures:x}, this disk offers 0x{mine.DeviceFeatures:x} (read-only where it was writable, or the reverse?)");
        if (state.RateLimiter is { } limiter) RateLimiter.RestoreState(limiter);   // checked whole before it is used
    }

    protected override void OnActivate(DeviceEventLoop loop)
    {
        _buffers = new RequestBuffers(Activation!.Memory);
        _throttleTimer = loop.CreateTimer(() => Serve(0));
    }

    protected override void OnReset()
    {
        _buffers = null;
        _throttleTimer = null;
    }

    protected override void ReleaseResources() => _backend.Dispose();

    /// <summary>The disk's image when it is a writable qcow2 one: its internal snapshots are taken through it (machine paused).</summary>
    public Qcow2Image? WritableQcow2 => _backend is Qcow2Image { ReadOnly: false } image ? image : null;

    /// <summary>Lets another process open the image (call while paused, with no request in flight): see <see cref="IBlockBackend.ReleaseLock"/>.</summary>
    public void ReleaseImageLock() => _backend.ReleaseLock();

    /// <summary>Takes the image back after <see cref="ReleaseImageLock"/>.</summary>
    public void ReacquireImageLock() => _backend.ReacquireLock();

    /// <summary>Serves queue <paramref name="index"/> until it is empty (loop thread); a malformed chain throws to the base, which marks NEEDS_RESET.</summary>
    protected override void ServeQueue(int index)
    {
        var activation = Activation!;
        var buffers = _buffers!;
        var queue = activation.Queues[index];
        bool completed = false;
        try
        {
            while (!IsBroken && !PauseRequested && queue.TryPopAvailable(out var chain))
            {
                ushort head = chain.Head;
                buffers.Load(ref chain);
                if (!RateLimiter.TryConsume(DataBytes(buffers), out long waitNs))
                {
                    // Out of tokens: the request goes back to the ring untouched and the timer serves it when it fits.
                    queue.UndoPop(1);
                    _throttleTimer!.Arm(waitNs);
                    break;
                }
                if (_handler.Handle(buffers) is not { } written)
                {
                    Fail("a request has no writable status byte to answer in");
                    break;
                }
                queue.AddUsed(head, written);
                completed = true;
            }
        }
        finally
        {
            // Requests finished before a malformed one still get their interrupt.
            if (completed && !IsBroken) activation.NotifyUsed(index);
        }
    }

    /// <summary>The request's data bytes for the bandwidth bucket: what follows the header plus what precedes the status byte.</summary>
    private static ulong DataBytes(RequestBuffers buffers) =>
        (buffers.ReadableLength > BlockLimits.HeaderSize ? buffers.ReadableLength - BlockLimits.HeaderSize : 0)
        + (buffers.WritableLength > 1 ? buffers.WritableLength - 1 : 0);

    private void OnHostError(string message) =>
        NoticeOnce(ref _hostErrorReported, $"host I/O error, the guest gets I/O errors: {message}");
}
