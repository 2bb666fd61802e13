using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Cli;

public class ValueParsersTests
{
    [Theory]
    [InlineData("256M", 256UL << 20)]
    [InlineData("256", 256UL << 20)]
    [InlineData("1G", 1UL << 30)]
    [InlineData("512KiB", 512UL << 10)]
    [InlineData("2gb", 2UL << 30)]
    [InlineData("0x10000000", 0x10000000UL)]
    [InlineData("0x100M", 0x100UL << 20)]
    [InlineData("4096B", 4096UL)]
    public void SizesAcceptSuffixesAndHex(string text, ulong expected)
    {
        Assert.True(ValueParsers.TryParseSize(text, out ulong bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("12Q")]
    [InlineData("-5M")]
    [InlineData("99999999999999999999G")]
    [InlineData("17179869184T")]
    public void BadSizesAreRejected(string text) => Assert.False(ValueParsers.TryParseSize(text, out _));

    [Theory]
    [InlineData("0xf4", 0xF4UL)]
    [InlineData("244", 244UL)]
    [InlineData("0XFF", 0xFFUL)]
    public void NumbersAcceptDecimalAndHex(string text, ulong expected)
    {
        Assert.True(ValueParsers.TryParseNumber(text, out ulong value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("0x")]
    [InlineData("0xg")]
    [InlineData("12a")]
    public void BadNumbersAreRejected(string text) => Assert.False(ValueParsers.TryParseNumber(text, out _));

    [Fact]
    public void ConsoleSpecsParse()
    {
        Assert.True(ValueParsers.TryParseConsole("socket:/tmp/c.sock", out var socket));
        Assert.Equal(new ConsoleConfig(ConsoleKind.Socket, "/tmp/c.sock"), socket);
        Assert.True(ValueParsers.TryParseConsole("pty", out var pty));
        Assert.Equal(ConsoleKind.Pty, pty.Kind);
        Assert.False(ValueParsers.TryParseConsole("socket:", out _));
        Assert.False(ValueParsers.TryParseConsole("file:/x", out _));
    }
}
