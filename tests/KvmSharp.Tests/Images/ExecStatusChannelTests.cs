using System.Text;
using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Images;

/// <summary>The COM2 line on which /init reports an --exec command's status.</summary>
public class ExecStatusChannelTests
{
    private static void Send(ExecStatusChannel channel, string text) => channel.Write(Encoding.ASCII.GetBytes(text));

    [Fact]
    public void RecordsTheStatusOfACompleteLine()
    {
        var channel = new ExecStatusChannel();
        Assert.Null(channel.Status);
        Send(channel, "exit-status 3");
        Assert.Null(channel.Status);                 // not a line until its newline
        Send(channel, "\r\n");                       // the guest tty turns \n into \r\n
        Assert.Equal(3, channel.Status);
    }

    [Fact]
    public void AcceptsZeroTo255ByteByByte()
    {
        foreach (int status in new[] { 0, 1, 127, 255 })
        {
            var channel = new ExecStatusChannel();
            foreach (byte b in Encoding.ASCII.GetBytes($"exit-status {status}\n")) channel.Write([b]);
            Assert.Equal(status, channel.Status);
        }
    }

    [Theory]
    [InlineData("exit-status 256\n")]
    [InlineData("exit-status -1\n")]
    [InlineData("exit-status 3x\n")]
    [InlineData("exit-status \n")]
    [InlineData("status 3\n")]
    [InlineData(" exit-status 3\n")]
    public void IgnoresAnythingElse(string line)
    {
        var channel = new ExecStatusChannel();
        Send(channel, line);
        Assert.Null(channel.Status);
    }

    [Fact]
    public void AnOverlongLineIsDroppedAndTheNextLineCounts()
    {
        var channel = new ExecStatusChannel();
        Send(channel, "exit-status 7" + new string('9', 10_000) + "\n");
        Assert.Null(channel.Status);
        Send(channel, "exit-status 7\n");
        Assert.Equal(7, channel.Status);
    }
}
