using System.Text.Json;
using System.Text.Json.Nodes;
using KvmSharp.State;

namespace KvmSharp.Tests.State;

// The tests run on the JIT, where reflection-based JSON works for any record; the machine layer's own JSON
// goes through its source-generated context.
#pragma warning disable IL2026, IL3050

/// <summary>
/// Helpers for component state tests: a JSON round trip (every state record must survive the machine's JSON
/// form), and a seeded random-mutation loop over one saved state. The loop changes one to three values
/// anywhere in the record (numbers to edge values, booleans, nulls, byte arrays to other lengths, arrays
/// shortened or grown), and restores the result into a fresh component: the only exception allowed is
/// <see cref="StateException"/>, and a refused state leaves the component as it was.
/// </summary>
internal static class StateFuzz
{
    private static readonly JsonSerializerOptions Options = new() { IncludeFields = false };

    public static string Json<TState>(TState state) => JsonSerializer.Serialize(state, Options);

    /// <summary>The state after a trip through its JSON form.</summary>
    public static TState RoundTrip<TState>(TState state) =>
        JsonSerializer.Deserialize<TState>(Json(state), Options) ?? throw new InvalidOperationException("null state");

    /// <summary>Runs <paramref name="cases"/> mutations of <paramref name="saved"/> (KVMSHARP_FUZZ_CASES overrides); returns how many were refused.</summary>
    public static int Run<TState>(Func<IStateful<TState>> create, TState saved, int seed, int cases = 1500) where TState : class
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_FUZZ_CASES"), out int wanted) && wanted > 0) cases = wanted;
        var random = new Random(seed);
        var baseline = JsonSerializer.SerializeToNode(saved, Options)!;
        int refused = 0, tried = 0;
        for (int i = 0; i < cases; i++)
        {
            var node = baseline.DeepClone();
            int mutations = 1 + random.Next(3);
            for (int m = 0; m < mutations && node is not null; m++) node = Mutate(node, random);
            TState? mutated;
            if (node is null) continue;
            try { mutated = node.Deserialize<TState>(Options); }
            catch (JsonException) { continue; }   // not a value the record's types can hold: the JSON layer refuses it
            if (mutated is null) continue;
            tried++;
            var component = create();
            try
            {
                string before = Json(component.SaveState());
                try
                {
                    component.RestoreState(mutated);
                }
                catch (StateException e)
                {
                    refused++;
                    Assert.DoesNotContain('\n', e.Message);
                    Assert.Equal(before, Json(component.SaveState()));
                    continue;
                }
                catch (Exception e)
                {
                    Assert.Fail($"case {i}: {e.GetType().Name} instead of StateException: {e.Message}\n{node.ToJsonString()}");
                }
                // Accepted: what it saves now must load again.
                var again = create();
                try { again.RestoreState(RoundTrip(component.SaveState())); }
                finally { (again as IDisposable)?.Dispose(); }
            }
            finally
            {
                (component as IDisposable)?.Dispose();
            }
        }
        Assert.True(tried > cases / 4, $"only {tried} of {cases} mutations reached the component");
        return refused;
    }

    private static readonly long[] EdgeNumbers =
        [0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 63, 64, 127, 128, 255, 256, 4095, 4096, 32767, 32768, 65535, 65536,
         int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue];

    private static JsonNode? Mutate(JsonNode root, Random random)
    {
        var places = new List<(JsonNode? Parent, object Key, JsonNode? Value)>();
        Collect(null, "", root, places);
        var (parent, key, value) = places[random.Next(places.Count)];
        JsonNode? replacement = value switch
        {
            JsonArray array when random.Next(3) == 0 => new JsonArray(),
            JsonArray array when array.Count > 0 && random.Next(2) == 0 => Without(array, random.Next(array.Count)),
            JsonArray array when array.Count > 0 => With(array, array[random.Next(array.Count)]),
            JsonValue v when v.TryGetValue(out bool b) => random.Next(4) == 0 ? null : JsonValue.Create(!b),
            JsonValue v when v.TryGetValue(out string? s) => random.Next(6) == 0 ? null : JsonValue.Create(RandomBase64(random, s.Length)),
            JsonValue => random.Next(6) == 0 ? null
                : random.Next(3) == 0 ? JsonValue.Create(random.NextInt64(-70000, 70000))
                : JsonValue.Create(EdgeNumbers[random.Next(EdgeNumbers.Length)]),
            _ => null,
        };
        if (parent is null) return replacement ?? root;
        if (parent is JsonObject obj) obj[(string)key] = replacement;
        else if (parent is JsonArray arr) arr[(int)key] = replacement;
        return root;
    }

    private static void Collect(JsonNode? parent, object key, JsonNode? node, List<(JsonNode?, object, JsonNode?)> places)
    {
        if (parent is not null) places.Add((parent, key, node));
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToList()) Collect(obj, name, child, places);
                break;
            case JsonArray arr:
                for (int i = 0; i < arr.Count; i++) Collect(arr, i, arr[i], places);
                break;
        }
        if (parent is null && places.Count == 0) places.Add((null, key, node));
    }

    private static JsonArray Without(JsonArray array, int index)
    {
        var copy = new JsonArray();
        for (int i = 0; i < array.Count; i++)
            if (i != index) copy.Add(array[i]?.DeepClone());
        return copy;
    }

    private static JsonArray With(JsonArray array, JsonNode? extra)
    {
        var copy = new JsonArray();
        foreach (var item in array) copy.Add(item?.DeepClone());
        copy.Add(extra?.DeepClone());
        return copy;
    }

    /// <summary>Base64 of random bytes, of a length near the original's decoded length or far from it.</summary>
    private static string RandomBase64(Random random, int base64Length)
    {
        int original = base64Length / 4 * 3;
        int length = random.Next(4) switch
        {
            0 => 0,
            1 => Math.Max(0, original + random.Next(-2, 3)),
            2 => original,
            _ => random.Next(0, 2 * original + 40),
        };
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return Convert.ToBase64String(bytes);
    }
}
