namespace KvmSharp.Tests;

/// <summary>Waiting for something a guest or another thread does, with a deadline that fails the test with a message.</summary>
internal static class Poll
{
    public static void Until(Func<bool> condition, Func<string> failure, int seconds = 30)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure());
            Thread.Sleep(5);
        }
    }

    /// <summary>How often <paramref name="word"/> occurs in <paramref name="text"/> (overlaps counted).</summary>
    public static int Occurrences(string text, string word)
    {
        int n = 0;
        for (int i = text.IndexOf(word, StringComparison.Ordinal); i >= 0; i = text.IndexOf(word, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
