using KvmSharp.Devices.Virtio.RateLimiting;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// The <c>bps=N</c> and <c>iops=N</c> keys of <c>--disk</c> and <c>--net</c>: a limit per second, as a Firecracker
/// token bucket of N tokens refilled over 1000 ms (so up to one second's worth may go at once, then the rate holds).
/// N is a plain number or one with a K, M or G suffix (powers of 1024: bps=4M is 4 MiB per second).
/// </summary>
internal static class RateOption
{
    public const string Bytes = "bps", Ops = "iops";

    /// <summary>The limiter <c>bps</c> and <c>iops</c> ask for (either may be absent), or null when neither is given.</summary>
    public static bool TryParse(DeviceOptionList options, bool allowOps, out RateLimiterConfig? limiter, out string error)
    {
        limiter = null;
        error = "";
        TokenBucketConfig? bandwidth = null, ops = null;
        if (options.Get(Bytes) is { } bps && !TryBucket(Bytes, bps, out bandwidth, out error)) return false;
        if (allowOps && options.Get(Ops) is { } iops && !TryBucket(Ops, iops, out ops, out error)) return false;
        if (bandwidth is not null || ops is not null) limiter = new RateLimiterConfig(bandwidth, ops);
        return true;
    }

    /// <summary>A count per second: digits with an optional K, M or G (×1024ⁿ); at least 1.</summary>
    public static bool TryParseRate(string text, out ulong value)
    {
        value = 0;
        if (text.Length == 0) return false;
        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        string digits = shift == 0 ? text : text[..^1];
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit) || !ulong.TryParse(digits, out ulong number)) return false;
        if (number == 0 || number > TokenBucketConfig.MaxSize >> shift) return false;
        value = number << shift;
        return true;
    }

    private static bool TryBucket(string key, string text, out TokenBucketConfig? bucket, out string error)
    {
        bucket = null;
        error = "";
        if (!TryParseRate(text, out ulong perSecond))
        {
            error = $"{key}={text}: give a rate per second above 0, as {key}=1000 or {key}=4M";
            return false;
        }
        bucket = new TokenBucketConfig(perSecond, RefillTime: 1000);
        return true;
    }
}
