namespace MaskBit.Server;

/// <summary>A request that ends with <paramref name="status"/> and <c>{"error": message}</c>; <paramref name="retryAfter"/>
/// (seconds) becomes a Retry-After header.</summary>
public sealed class ApiError(int status, string message, int? retryAfter = null) : Exception(message)
{
    public int Status { get; } = status;
    public int? RetryAfter { get; } = retryAfter;
}
