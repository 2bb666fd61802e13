using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// virtio-fs (virtio 1.2 §5.11, device ID 26): a host folder the guest mounts with <c>mount -t virtiofs TAG DIR</c>.
/// The FUSE protocol is served here, in the VMM (no external virtiofsd), by <see cref="FuseServer"/> on a
/// <see cref="SharedDirectory"/> (the jail). Queue 0 is hiprio (FORGET, BATCH_FORGET), queue 1 the one request
/// queue (num_request_queues = 1, §5.11.2); both are served in order on the device's own thread. No feature bits
/// (VIRTIO_FS_F_NOTIFICATION is not offered) and no DAX window (§5.11.6.2's shared memory region is optional).
/// <para>
/// A guest reset forgets the FUSE session (nodes, handles, INIT); a restored state is kept aside and becomes the
/// session at the activation the transport's restore makes.
/// </para>
/// </summary>
public sealed class VirtioFsDevice : QueueServingDevice, IStateful<VirtioFsState>
{
    private const ushort QueueSize = 128;

    private readonly byte[] _config;
    private readonly FuseServer _server;
    private readonly Lock _session = new();
    private RequestBuffers? _buffers;
    private VirtioFsState? _restored;
    private int _saidUnexpected;

    /// <param name="tag">The mount tag: 1 to 36 bytes of UTF-8.</param>
    /// <param name="path">The host folder (absolute); opened now, so a missing one fails at build time with one line.</param>
    public VirtioFsDevice(string tag, string path, bool readOnly, Action<string> notice, string name = "virtio-fs")
        : base(name, notice)
    {
        if (!FsConfigSpace.IsValidTag(tag)) throw new ArgumentException($"virtio-fs tag '{tag}' must be 1 to {FsConfigSpace.TagSize} bytes without NUL", nameof(tag));
        Tag = tag;
        _config = FsConfigSpace.Build(tag, 1);
        _server = new FuseServer(new SharedDirectory(path, readOnly));
    }

    /// <summary>A tag is 1 to 36 bytes of UTF-8 without NUL (virtio 1.2 §5.11.4).</summary>
    public static bool IsValidTag(string tag) => FsConfigSpace.IsValidTag(tag);

    public string Tag { get; }
    public bool ReadOnly => _server.Directory.ReadOnly;

    public override VirtioDeviceType DeviceType => VirtioDeviceType.FileSystem;
    public override ulong DeviceFeatures => 0;
    public override IReadOnlyList<ushort> QueueSizes { get; } = [QueueSize, QueueSize];
    public override int ConfigSize => FsConfigSpace.Size;

    public override void ReadConfig(int offset, Span<byte> data) => _config.AsSpan(offset, data.Length).CopyTo(data);

    /// <summary>Every field is read-only to the driver (§5.11.4).</summary>
    public override void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

    protected override void OnActivate(DeviceEventLoop loop)
    {
        _buffers = new RequestBuffers(Activation!.Memory, FuseInit.MaxPagesPerRequest + 16);
        lock (_session)
        {
            if (_restored is not { } state) return;
            _restored = null;
            _server.Directory.Restore(state, "virtio_fs");
            _server.Initialized = state.Initialized;
            _server.Minor = state.Minor;
        }
    }

    /// <summary>A reset driver starts a new FUSE session with INIT: everything of the old one goes.</summary>
    protected override void OnReset()
    {
        _buffers = null;
        lock (_session)
        {
            _server.Directory.ForgetAll();
            _server.Initialized = false;
        }
    }

    protected override void ReleaseResources() => _server.Directory.Dispose();

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
                queue.AddUsed(head, Serve(buffers));
                completed = true;
            }
        }
        finally
        {
            if (completed && !IsBroken) activation.NotifyUsed(index);
        }
    }

    /// <summary>One request; a host failure we did not foresee is the guest's -EIO (and said once), never the device's end.</summary>
    private uint Serve(RequestBuffers buffers)
    {
        lock (_session)
        {
            try
            {
                return _server.Handle(buffers);
            }
            catch (Exception e) when (e is not VirtQueueException)
            {
                NoticeOnce(ref _saidUnexpected, $"unexpected {e.GetType().Name} serving a FUSE request (the guest got EIO): {e.Message}");
                return _server.ErrorReply(-Errno.EIO);
            }
        }
    }

    /// <summary>The session as saved state (the machine is paused, so no request is being served).</summary>
    public VirtioFsState SaveState()
    {
        lock (_session)
        {
            if (_restored is { } pending) return pending;
            var (nodes, handles, nextNode, nextHandle) = _server.Directory.Save("virtio_fs");
            return new VirtioFsState
            {
                Tag = Tag,
                ReadOnly = ReadOnly,
                Initialized = _server.Initialized,
                Minor = _server.Minor,
                NextNodeId = nextNode,
                NextHandle = nextHandle,
                Nodes = nodes,
                Handles = handles,
            };
        }
    }

    /// <summary>Checks the tag and writability match; the tables are opened again at the activation the transport's restore makes.</summary>
    public void RestoreState(VirtioFsState state)
    {
        StateCheck.NotNull(state, "virtio_fs");
        StateCheck.That(state.Tag == Tag, "virtio_fs.Tag", $"the guest mounted tag '{state.Tag}', this device has '{Tag}'");
        StateCheck.That(state.ReadOnly == ReadOnly, "virtio_fs.ReadOnly", $"the folder was {(state.ReadOnly ? "read-only" : "writable")}, this one is {(ReadOnly ? "read-only" : "writable")}");
        StateCheck.NotNull(state.Nodes, "virtio_fs.Nodes");
        StateCheck.NotNull(state.Handles, "virtio_fs.Handles");
        lock (_session)
        {
            _server.Directory.CheckRestorable(state, "virtio_fs");
            _restored = state;
        }
    }
}
