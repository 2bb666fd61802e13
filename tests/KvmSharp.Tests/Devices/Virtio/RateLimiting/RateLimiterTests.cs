using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.State;

namespace KvmSharp.Tests.Devices.Virtio.RateLimiting;

/// <summary>The token buckets' arithmetic on a test clock: burst, refill, waits, updates and saved state.</summary>
public sealed class RateLimiterTests
{
    private const long Ms = 1_000_000;
    private long _now = 5 * Ms;

    private RateLimiter Limiter(TokenBucketConfig? bandwidth = null, TokenBucketConfig? ops = null) =>
        new(new RateLimiterConfig(bandwidth, ops), () => _now);

    [Fact]
    public void AFullBucketServesItsSizeThenRefusesAndSaysWhenItWouldFit()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(Size: 1000, RefillTime: 100));
        Assert.True(limiter.TryConsume(600, out _));
        Assert.True(limiter.TryConsume(400, out _));
        Assert.False(limiter.TryConsume(100, out long wait));
        // 1000 tokens per 100 ms: 100 tokens take exactly 10 ms.
        Assert.Equal(10 * Ms, wait);
        _now += wait - 1;
        Assert.False(limiter.TryConsume(100, out long rest));
        Assert.Equal(1, rest);
        _now += 1;
        Assert.True(limiter.TryConsume(100, out _));
    }

    [Fact]
    public void RefillIsExactWithNoRoundingLostOverManySmallSteps()
    {
        // 3 tokens per 10 ms: each 1 ms step earns 0.3 of a token; a rounding refill would earn nothing.
        var limiter = Limiter(ops: new TokenBucketConfig(Size: 3, RefillTime: 10));
        for (int i = 0; i < 3; i++) Assert.True(limiter.TryConsume(0, out _));
        int served = 0;
        for (int step = 0; step < 100; step++)
        {
            _now += Ms;
            while (limiter.TryConsume(0, out _)) served++;
        }
        Assert.Equal(30, served);   // 100 ms at 3 per 10 ms, to the token
    }

    [Fact]
    public void TheOneTimeBurstIsSpentFirstAndNeverRefilled()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(Size: 100, RefillTime: 1000, OneTimeBurst: 500));
        Assert.True(limiter.TryConsume(500, out _));   // all burst: the budget is still full
        Assert.True(limiter.TryConsume(100, out _));
        Assert.False(limiter.TryConsume(1, out _));
        _now += 10_000 * Ms;                          // long past a full refill: the budget only
        Assert.True(limiter.TryConsume(100, out _));
        Assert.False(limiter.TryConsume(1, out _));
        Assert.Equal(0ul, limiter.SaveState().Bandwidth!.OneTimeBurstLeft);
    }

    [Fact]
    public void ABurstPartlyLeftIsUsedBeforeTheBudget()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(Size: 100, RefillTime: 1000, OneTimeBurst: 30));
        Assert.True(limiter.TryConsume(80, out _));    // 30 burst + 50 budget
        var state = limiter.SaveState().Bandwidth!;
        Assert.Equal(0ul, state.OneTimeBurstLeft);
        Assert.Equal(50, state.Budget);
    }

    [Fact]
    public void BothBucketsMustHaveRoomAndARefusalChargesNeither()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(1000, 1000), ops: new TokenBucketConfig(2, 1000));
        Assert.True(limiter.TryConsume(100, out _));
        Assert.True(limiter.TryConsume(100, out _));
        Assert.False(limiter.TryConsume(100, out long wait));   // ops empty, bandwidth has 800
        Assert.Equal(500 * Ms, wait);                            // one op per 500 ms
        var state = limiter.SaveState();
        Assert.Equal(800, state.Bandwidth!.Budget);
        Assert.Equal(0, state.Ops!.Budget);
    }

    [Fact]
    public void AnOversizedRequestGoesWhenTheBucketIsFullAndItsDebtIsPaidFirst()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(Size: 100, RefillTime: 100));
        Assert.True(limiter.TryConsume(250, out _));   // larger than the bucket: allowed from full
        Assert.Equal(-150, limiter.SaveState().Bandwidth!.Budget);
        Assert.False(limiter.TryConsume(10, out long wait));
        Assert.Equal(160 * Ms, wait);                  // the 150-token debt, then 10 tokens, at 1 per ms
        _now += 100 * Ms;
        Assert.False(limiter.TryConsume(250, out long full));
        Assert.Equal(150 * Ms, full);                  // an oversized request waits for a full bucket
    }

    [Fact]
    public void ABucketOfSizeOrRefillZeroLimitsNothing()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(0, 100), ops: new TokenBucketConfig(5, 0));
        for (int i = 0; i < 1000; i++) Assert.True(limiter.TryConsume(1 << 20, out _));
        Assert.Null(limiter.SaveState().Bandwidth);
    }

    [Fact]
    public void AnUpdateReplacesRemovesOrKeepsEachBucket()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(100, 1000), ops: new TokenBucketConfig(1, 1000));
        Assert.True(limiter.TryConsume(100, out _));
        limiter.Update(bandwidth: new TokenBucketConfig(200, 1000), ops: null);   // new bandwidth starts full, ops kept (empty)
        Assert.False(limiter.TryConsume(1, out _));
        limiter.Update(bandwidth: null, ops: new TokenBucketConfig(0, 0));      // ops removed
        Assert.True(limiter.TryConsume(200, out _));
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(200, 1000), null), limiter.Config);
        Assert.Throws<ArgumentException>(() => limiter.Update(new TokenBucketConfig(TokenBucketConfig.MaxSize + 1, 1), null));
    }

    [Fact]
    public void SavedBudgetsComeBackSoARestoreDoesNotRefillTheBucket()
    {
        var limiter = Limiter(bandwidth: new TokenBucketConfig(1000, 100, OneTimeBurst: 50), ops: new TokenBucketConfig(10, 100));
        Assert.True(limiter.TryConsume(1020, out _));
        _now += Ms / 3;   // a third of a ms: 3333.33 token·ns... carried as a remainder
        var saved = limiter.SaveState();

        var restored = Limiter();
        restored.RestoreState(saved);
        Assert.Equal(saved, restored.SaveState());
        Assert.Equal(limiter.Config, restored.Config);
        Assert.False(restored.TryConsume(100, out long wait));
        Assert.False(limiter.TryConsume(100, out long original));
        Assert.Equal(original, wait);
    }

    [Theory]
    [InlineData("size0")]
    [InlineData("budgetAboveSize")]
    [InlineData("budgetFarBelow")]
    [InlineData("burstLeftAboveBurst")]
    [InlineData("remainderTooBig")]
    [InlineData("sizeHuge")]
    public void HostileStatesAreRefusedNamingTheFieldAndChangeNothing(string what)
    {
        var good = new TokenBucketState { Size = 100, RefillTime = 10, OneTimeBurst = 5, Budget = 50, OneTimeBurstLeft = 5, RefillRemainder = 7 };
        var bad = what switch
        {
            "size0" => good with { Size = 0 },
            "budgetAboveSize" => good with { Budget = 101 },
            "budgetFarBelow" => good with { Budget = long.MinValue },
            "burstLeftAboveBurst" => good with { OneTimeBurstLeft = 6 },
            "remainderTooBig" => good with { RefillRemainder = 10 * Ms },
            _ => good with { Size = ulong.MaxValue, Budget = 0 },
        };
        var limiter = Limiter(ops: new TokenBucketConfig(3, 1000));
        var before = limiter.SaveState();
        var e = Assert.Throws<StateException>(() => limiter.RestoreState(new RateLimiterState { Bandwidth = good, Ops = bad }));
        Assert.StartsWith("rate_limiter.Ops", e.Message);
        Assert.Equal(before, limiter.SaveState());
    }

    [Fact]
    public void LargeNumbersDoNotOverflow()
    {
        var slow = Limiter(bandwidth: new TokenBucketConfig(TokenBucketConfig.MaxSize, TokenBucketConfig.MaxRefillTime));
        Assert.True(slow.TryConsume(TokenBucketConfig.MaxSize, out _));
        Assert.False(slow.TryConsume(TokenBucketConfig.MaxSize, out long longest));
        Assert.Equal((long)(TokenBucketConfig.MaxRefillTime * 1_000_000), longest);   // a whole refill, no overflow

        var limiter = Limiter(bandwidth: new TokenBucketConfig(TokenBucketConfig.MaxSize, 1000, TokenBucketConfig.MaxSize));
        Assert.True(limiter.TryConsume(TokenBucketConfig.MaxSize, out _));
        Assert.True(limiter.TryConsume(TokenBucketConfig.MaxSize, out _));
        Assert.False(limiter.TryConsume(ulong.MaxValue, out long wait));
        Assert.Equal(1000 * Ms, wait);
        _now += 2000 * Ms;
        Assert.True(limiter.TryConsume(ulong.MaxValue, out _));   // full again: the oversized request goes, its debt bounded
        Assert.True(limiter.SaveState().Bandwidth!.Budget >= -(long)TokenBucketConfig.MaxSize);
    }
}
