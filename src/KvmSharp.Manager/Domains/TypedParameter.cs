namespace KvmSharp.Manager.Domains;

/// <summary>virTypedParameterType: the union arm a value travels in (remote_typed_param_value).</summary>
public enum TypedParameterType
{
    Int = 1,
    UInt = 2,
    LLong = 3,
    ULLong = 4,
    Double = 5,
    Boolean = 6,
    String = 7,
}

/// <summary>One virTypedParameter (a named, typed value: memtune's, schedinfo's, domstats' fields). Integers only here.</summary>
public sealed record TypedParameter(string Field, TypedParameterType Type, long Value)
{
    public static TypedParameter Int(string field, int value) => new(field, TypedParameterType.Int, value);
    public static TypedParameter LLong(string field, long value) => new(field, TypedParameterType.LLong, value);
    public static TypedParameter ULLong(string field, ulong value) => new(field, TypedParameterType.ULLong, unchecked((long)value));
}

/// <summary>One domain's record in virConnectGetAllDomainStats / virDomainListGetStats.</summary>
public sealed record DomainStatsRecord(DomainRef Domain, IReadOnlyList<TypedParameter> Parameters);
