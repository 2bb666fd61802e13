using KvmSharp.State;

namespace KvmSharp.Tests.State;

/// <summary>The state envelope refuses anything that is not exactly what was written.</summary>
public class StateFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-state").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly byte[] Payload = System.Text.Encoding.UTF8.GetBytes("{\"vcpus\":[1,2,3]}");

    [Fact]
    public void WhatIsWrittenReadsBack()
    {
        string path = Path.Combine(_dir, "vm.state");
        StateFile.Write(path, Payload, StateFile.MachineStateKind, 1);
        Assert.Equal(Payload, StateFile.Read(path, StateFile.MachineStateKind, 1).ToArray());
        Assert.Single(Directory.GetFiles(_dir));   // no temporary file left behind
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        byte[] whole = StateFile.Wrap(Payload, StateFile.MachineStateKind, 1);
        for (int length = 0; length < whole.Length; length++)
        {
            var e = Assert.Throws<StateException>(() => StateFile.Unwrap(whole.AsMemory(0, length), StateFile.MachineStateKind, 1, "test"));
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void EverySingleBitFlipIsRefused()
    {
        byte[] whole = StateFile.Wrap(Payload, StateFile.MachineStateKind, 1);
        for (int bit = 0; bit < whole.Length * 8; bit++)
        {
            byte[] copy = (byte[])whole.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Throws<StateException>(() => StateFile.Unwrap(copy, StateFile.MachineStateKind, 1, "test"));
        }
    }

    [Fact]
    public void AnotherVersionOrKindIsRefusedByName()
    {
        byte[] whole = StateFile.Wrap(Payload, StateFile.MachineStateKind, 2);
        var e = Assert.Throws<StateException>(() => StateFile.Unwrap(whole, StateFile.MachineStateKind, 1, "test"));
        Assert.Contains("version 2", e.Message);
        Assert.Throws<StateException>(() => StateFile.Unwrap(StateFile.Wrap(Payload, 7, 1), StateFile.MachineStateKind, 1, "test"));
        Assert.Throws<StateException>(() => StateFile.Unwrap(whole.Append((byte)0).ToArray(), StateFile.MachineStateKind, 2, "test"));
    }

    [Fact]
    public void AMissingFileIsAStateError()
    {
        var e = Assert.Throws<StateException>(() => StateFile.Read(Path.Combine(_dir, "none"), StateFile.MachineStateKind, 1));
        Assert.Contains("cannot read state file", e.Message);
    }
}
