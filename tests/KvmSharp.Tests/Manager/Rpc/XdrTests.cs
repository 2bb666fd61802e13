using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Tests.Manager.Rpc;

public sealed class XdrTests
{
    [Fact]
    public void EveryTypeRoundTripsInRpcgensLayout()
    {
        var w = new XdrWriter(4);
        w.WriteInt32(-2);
        w.WriteUInt32(0xdeadbeef);
        w.WriteInt64(-3);
        w.WriteUInt64(ulong.MaxValue);
        w.WriteBool(true);
        w.WriteString("abcde");
        w.WriteOptionalString(null);
        w.WriteOptionalString("");
        w.WriteUuid(Guid.Parse("11111111-2222-3333-4444-555555555555"));
        w.WriteOpaque([1, 2, 3], 8);
        w.WriteFixedOpaque([9]);
        w.WriteCount(2, 2);
        w.WriteInt32(7);
        w.WriteInt32(8);

        byte[] bytes = w.ToArray();
        var r = new XdrReader(bytes);
        Assert.Equal(-2, r.ReadInt32());
        Assert.Equal(0xdeadbeef, r.ReadUInt32());
        Assert.Equal(-3, r.ReadInt64());
        Assert.Equal(ulong.MaxValue, r.ReadUInt64());
        Assert.True(r.ReadBool());
        Assert.Equal("abcde", r.ReadString());
        Assert.Null(r.ReadOptionalString());
        Assert.Equal("", r.ReadOptionalString());
        Assert.Equal(Guid.Parse("11111111-2222-3333-4444-555555555555"), r.ReadUuid());
        Assert.Equal([1, 2, 3], r.ReadOpaque(8).ToArray());
        Assert.Equal([9], r.ReadFixedOpaque(1).ToArray());
        Assert.Equal(2, r.ReadCount(2));
        Assert.Equal((7, 8), (r.ReadInt32(), r.ReadInt32()));
        r.EnsureEnd();
        Assert.Equal(4 + 4 + 8 + 8 + 4 + 12 + 4 + 8 + 16 + 8 + 4 + 12, bytes.Length);
    }

    [Fact]
    public void StringsArePaddedWithZerosAndUuidsAreBigEndian()
    {
        var w = new XdrWriter();
        w.WriteString("qemu:///system");
        w.WriteUuid(Guid.Parse("11111111-2222-3333-4444-555555555555"));

        Assert.Equal(Convert.FromHexString("0000000E" + "71656D753A2F2F2F73797374656D" + "0000" + "11111111222233334444555555555555"), w.ToArray());
    }

    public static TheoryData<string, string> HostilePayloads => new()
    {
        { "000000", "int at offset 0 needs 4 bytes, 3 left" },
        { "00000002", "bool at offset 0 is 2, not 0 or 1" },
        { "00000064616263", "string at offset 4 needs 100 bytes, 3 left" },
        { "FFFFFFFF", "string length 4294967295 at offset 0 is over its maximum 4194304" },
        { "0000000161", "string padding at offset 5 needs 3 bytes, 0 left" },
        { "00000002", "optional-data flag at offset 0 is 2, not 0 or 1" },
        { "00004001", "array count 16385 at offset 0 is over its maximum 16384" },
        { "00001000", "array count 4096 at offset 0 needs more than the 0 bytes left" },
        { "0000000000", "1 unexpected bytes after the payload at offset 4" },
    };

    [Theory]
    [MemberData(nameof(HostilePayloads))]
    public void HostileInputIsOneClearError(string hex, string message)
    {
        byte[] bytes = Convert.FromHexString(hex);

        var e = Assert.Throws<XdrException>(() =>
        {
            var r = new XdrReader(bytes);
            switch (message)
            {
                case var m when m.StartsWith("int", StringComparison.Ordinal): r.ReadInt32(); break;
                case var m when m.StartsWith("bool", StringComparison.Ordinal): r.ReadBool(); break;
                case var m when m.StartsWith("optional", StringComparison.Ordinal): r.ReadOptionalString(); break;
                case var m when m.StartsWith("array", StringComparison.Ordinal): r.ReadCount(16384); break;
                case var m when m.Contains("unexpected", StringComparison.Ordinal): r.ReadInt32(); r.EnsureEnd(); break;
                default: r.ReadString(); break;
            }
        });

        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void TheWriterRefusesWhatThePeerWouldRefuse()
    {
        var w = new XdrWriter();

        Assert.Equal("string of 6 bytes is over its maximum 5", Assert.Throws<XdrException>(() => w.WriteString("abcdef", 5)).Message);
        Assert.Equal("array of 3 elements is over its maximum 2", Assert.Throws<XdrException>(() => w.WriteCount(3, 2)).Message);
        Assert.Equal("opaque of 3 bytes is over its maximum 2", Assert.Throws<XdrException>(() => w.WriteOpaque([1, 2, 3], 2)).Message);
        Assert.Equal(0, w.Length);
    }
}
