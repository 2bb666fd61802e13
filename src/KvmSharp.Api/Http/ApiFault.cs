namespace KvmSharp.Api.Http;

/// <summary>A request the API refuses: the message goes to the client as <c>{"fault_message": …}</c>.</summary>
public sealed class ApiFault(string message, int statusCode = 400) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
