using System.Diagnostics.CodeAnalysis;

namespace KvmSharp.State;

/// <summary>Checks for values read from a state record; each failure is a <see cref="StateException"/> naming the field.</summary>
public static class StateCheck
{
    /// <summary>Fails with "<paramref name="field"/>: <paramref name="why"/>" unless <paramref name="condition"/>.</summary>
    public static void That([DoesNotReturnIf(false)] bool condition, string field, string why)
    {
        if (!condition) Fail(field, why);
    }

    public static T NotNull<T>([NotNull] T? value, string field) where T : class
    {
        if (value is null) Fail(field, "is missing");
        return value;
    }

    public static long InRange(long value, long min, long max, string field)
    {
        if (value < min || value > max) Fail(field, $"{value} is outside {min}..{max}");
        return value;
    }

    public static ulong AtMost(ulong value, ulong max, string field)
    {
        if (value > max) Fail(field, $"{value} is above {max}");
        return value;
    }

    /// <summary>An array that must have exactly <paramref name="length"/> elements.</summary>
    public static T[] Length<T>(T[]? array, int length, string field)
    {
        if (array is null) Fail(field, "is missing");
        if (array.Length != length) Fail(field, $"has {array.Length} elements, expected {length}");
        return array;
    }

    /// <summary>An array of at most <paramref name="max"/> elements.</summary>
    public static T[] LengthAtMost<T>(T[]? array, int max, string field)
    {
        if (array is null) Fail(field, "is missing");
        if (array.Length > max) Fail(field, $"has {array.Length} elements, at most {max} allowed");
        return array;
    }

    public static TEnum Defined<TEnum>(TEnum value, string field) where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value)) Fail(field, $"{value} is not a known value");
        return value;
    }

    [DoesNotReturn]
    public static void Fail(string field, string why) => throw new StateException($"{field}: {why}");
}
