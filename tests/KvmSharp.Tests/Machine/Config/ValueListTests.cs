using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>ValueList: compares by content, never changes, default is empty.</summary>
public class ValueListTests
{
    [Fact]
    public void ListsWithTheSameItemsAreEqualAndHashAlike()
    {
        ValueList<string> a = ["x", "y"], b = ValueList.Create<string>(["x", "y"]);
        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, ["y", "x"]);
        Assert.NotEqual(a, ["x"]);
        Assert.Equal(default(ValueList<string>), (ValueList<string>)[]);
        Assert.Empty(default(ValueList<string>));
    }

    [Fact]
    public void AddAndSetItemLeaveTheOriginalAlone()
    {
        ValueList<int> list = [1, 2];
        var added = list.Add(3);
        var set = list.SetItem(0, 9);
        Assert.Equal([1, 2], list);
        Assert.Equal([1, 2, 3], added);
        Assert.Equal([9, 2], set);
        Assert.Equal(1, list.FindIndex(i => i == 2));
        Assert.Equal(-1, list.FindIndex(i => i == 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.SetItem(2, 0));
    }

    [Fact]
    public void ACollectionViewOfTheListCannotChangeIt()
    {
        ValueList<int> list = [1];
        ICollection<int> view = list;   // a boxed copy
        view.Add(2);
        Assert.Equal([1], list);
        Assert.Throws<NotSupportedException>(view.Clear);
    }

    [Fact]
    public void RecordsHoldingListsCompareByContent()
    {
        var a = new MachineConfig { Disks = [new DiskConfig("/a")] };
        var b = new MachineConfig { Disks = [new DiskConfig("/a")] };
        Assert.Equal(a, b);
        Assert.NotEqual(a, b with { Disks = [new DiskConfig("/b")] });
        Assert.Equal("[1, 2]", new ValueList<int>().Add(1).Add(2).ToString());
    }
}
