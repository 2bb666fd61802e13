using System.Runtime.InteropServices;
using KvmSharp.Native.Net;

namespace KvmSharp.Devices.Virtio.Net.Host;

/// <summary>A virtio-net backend on a Linux tap device.</summary>
public sealed class TapBackend(TapDevice tap) : INetBackend
{
    public SafeHandle Handle => tap.Handle;
    public bool SupportsOffloads => tap.SupportsOffloads;
    public int Receive(Span<byte> buffer) => FrameIo.Read(tap.Handle, buffer);
    public int Send(ReadOnlySpan<byte> frame) => FrameIo.Write(tap.Handle, frame);
    public void SetOffloads(uint tunFlags) => tap.SetOffloads(tunFlags);
    public void Dispose() => tap.Dispose();
}
