namespace KvmSharp.Tests.Machine.Migration;

/// <summary>A connection whose peer sent <paramref name="input"/> and then closed; what we write is kept.</summary>
internal sealed class ScriptedConnection(byte[] input) : Stream
{
    private readonly MemoryStream _in = new(input, writable: false);
    private readonly MemoryStream _out = new();

    public byte[] Written => _out.ToArray();
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => _out.Write(buffer, offset, count);
}
