using System.Collections;
using System.Runtime.CompilerServices;

namespace KvmSharp.Machine.Config;

/// <summary>
/// An immutable list that compares by content, so records holding one (<see cref="MachineConfig.Disks"/>) have value
/// equality. Write one as a collection expression (<c>[disk0, disk1]</c>); change one with <see cref="Add"/> and
/// <see cref="SetItem"/>, which return a new list.
/// </summary>
/// <remarks>
/// A struct so that System.Text.Json's source generator can read it as an ordinary collection without reflection:
/// the serializer fills a fresh (boxed) value through <see cref="ICollection{T}.Add"/>, which replaces this value's own
/// array. Every other holder has its own copy of the struct, so nothing it holds ever changes; that is also why
/// <see cref="ICollection{T}.IsReadOnly"/> says false. <c>default</c> is the empty list.
/// </remarks>
[CollectionBuilder(typeof(ValueList), nameof(ValueList.Create))]
public struct ValueList<T> : IReadOnlyList<T>, ICollection<T>, IEquatable<ValueList<T>>
{
    private T[]? _items;

    internal ValueList(T[] items) => _items = items;

    public readonly int Count => _items?.Length ?? 0;

    public readonly T this[int index] => (_items ?? [])[index];

    /// <summary>A new list with <paramref name="item"/> at the end.</summary>
    public readonly ValueList<T> Add(T item) => new([.. Items, item]);

    /// <summary>A new list with <paramref name="item"/> in place of the one at <paramref name="index"/>.</summary>
    public readonly ValueList<T> SetItem(int index, T item)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        var items = Items.ToArray();
        items[index] = item;
        return new(items);
    }

    /// <summary>The index of the first item that <paramref name="match"/> accepts, or -1.</summary>
    public readonly int FindIndex(Predicate<T> match) => Array.FindIndex(_items ?? [], match);

    public readonly ReadOnlySpan<T> Items => _items;

    public readonly bool Equals(ValueList<T> other) => Items.SequenceEqual(other.Items);

    public override readonly bool Equals(object? obj) => obj is ValueList<T> other && Equals(other);

    public override readonly int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in Items) hash.Add(item);
        return hash.ToHashCode();
    }

    public static bool operator ==(ValueList<T> left, ValueList<T> right) => left.Equals(right);
    public static bool operator !=(ValueList<T> left, ValueList<T> right) => !left.Equals(right);

    public override readonly string ToString() => $"[{string.Join(", ", _items ?? [])}]";

    public readonly IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? [])).GetEnumerator();
    readonly IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // ---- ICollection<T>: for the JSON reader only (see remarks) ----
    readonly bool ICollection<T>.IsReadOnly => false;
    void ICollection<T>.Add(T item)
    {
        // A list item is a value (a disk, a NIC): "disks": [null] is a mistake in the file, said with its position.
        if (item is null) throw new System.Text.Json.JsonException("cannot be null");
        _items = [.. Items, item];
    }
    readonly bool ICollection<T>.Contains(T item) => Array.IndexOf(_items ?? [], item) >= 0;
    readonly void ICollection<T>.CopyTo(T[] array, int arrayIndex) => Items.CopyTo(array.AsSpan(arrayIndex));
    readonly void ICollection<T>.Clear() => throw new NotSupportedException("a ValueList does not change; make a new one");
    readonly bool ICollection<T>.Remove(T item) => throw new NotSupportedException("a ValueList does not change; make a new one");
}

/// <summary>Makes <see cref="ValueList{T}"/>s; the target of collection expressions.</summary>
public static class ValueList
{
    public static ValueList<T> Create<T>(ReadOnlySpan<T> items) => new(items.ToArray());
}
