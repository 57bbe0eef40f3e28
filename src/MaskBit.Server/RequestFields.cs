using System.Globalization;
using System.Text.Json;

namespace MaskBit.Server;

/// <summary>
/// A request's named values, from a JSON object, a query string or a multipart form, read with their types and ranges
/// checked: every problem is an <see cref="ApiError"/> 400 naming the field, what it expects and what came. A field
/// the endpoint does not read is an error too (<see cref="CheckAllRead"/>), so a misspelt knob is never ignored.
/// </summary>
public abstract class RequestFields
{
    readonly HashSet<string> _read = [];

    /// <summary>The names the request gave.</summary>
    protected abstract IEnumerable<string> Names { get; }
    /// <summary>The raw value of a field: a <see cref="JsonElement"/> or a string; null when not given.</summary>
    protected abstract object? Raw(string name);

    public static RequestFields FromJson(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object ? new JsonFields(root)
            : throw new ApiError(400, $"the body must be a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}");

    /// <summary>A query string or a form's text fields; a name given twice is an error.</summary>
    public static RequestFields FromText(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> values) =>
        new TextFields(values);

    object? Take(string name)
    {
        _read.Add(name);
        return Raw(name);
    }

    static ApiError Bad(string name, string expected, object got) =>
        new(400, $"{name}: expected {expected}, got {Show(got)}");

    static string Show(object got) => got switch
    {
        JsonElement e when e.ValueKind == JsonValueKind.String => Quote(e.GetString()!),
        JsonElement e => Cut(e.GetRawText()),
        string s => Quote(s),
        _ => got.ToString() ?? "",
    };

    static string Quote(string s) => $"'{Cut(s)}'";
    static string Cut(string s) => s.Length > 40 ? s[..40] + "..." : s;

    public long? Integer(string name, long min, long max)
    {
        var raw = Take(name);
        if (raw is null) return null;
        long? value = raw switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetInt64(out long v) => v,
            string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) => v,
            _ => null,
        };
        if (value is not long x || x < min || x > max) throw Bad(name, $"an integer {min}..{max}", raw);
        return x;
    }

    public int? Int(string name, int min, int max) => (int?)Integer(name, min, max);

    /// <summary>A random seed: an integer 0..2^64-1.</summary>
    public ulong? Seed(string name)
    {
        var raw = Take(name);
        if (raw is null) return null;
        ulong? value = raw switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetUInt64(out ulong v) => v,
            string s when ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) => v,
            _ => null,
        };
        return value ?? throw Bad(name, "an integer 0..18446744073709551615", raw);
    }

    public double? Number(string name, double min, double max)
    {
        var raw = Take(name);
        if (raw is null) return null;
        double? value = raw switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) => v,
            _ => null,
        };
        if (value is not double x || !double.IsFinite(x) || x < min || x > max) throw Bad(name, $"a number {min}..{max}", raw);
        return x;
    }

    public bool? Flag(string name)
    {
        var raw = Take(name);
        return raw switch
        {
            null => null,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            string s when s is "true" or "1" or "on" => true,
            string s when s is "false" or "0" or "off" => false,
            _ => throw Bad(name, "true or false", raw),
        };
    }

    public string? Text(string name, int maxLength = 200)
    {
        var raw = Take(name);
        string? value = raw switch
        {
            null => null,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            string s => s,
            _ => throw Bad(name, "a string", raw),
        };
        if (value is not null && value.Length > maxLength) throw Bad(name, $"at most {maxLength} characters", value);
        return value;
    }

    /// <summary>A list: a JSON array of strings or numbers, or comma-separated text; empty items are dropped.</summary>
    public IReadOnlyList<string>? List(string name, int maxItems)
    {
        var raw = Take(name);
        List<string>? items = raw switch
        {
            null => null,
            JsonElement { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(Item).ToList(),
            JsonElement { ValueKind: JsonValueKind.String } e => Split(e.GetString()!),
            string s => Split(s),
            _ => throw Bad(name, "a list (an array, or items separated by commas)", raw),
        };
        if (items is not null && items.Count > maxItems) throw new ApiError(400, $"{name}: at most {maxItems} items, got {items.Count}");
        return items;

        string Item(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString()!,
            JsonValueKind.Number => e.GetRawText(),
            _ => throw Bad(name, "an array of strings or numbers", e),
        };
        static List<string> Split(string s) => s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    /// <summary>Ends the reading: a field that no read asked for is an error naming the ones this endpoint takes.</summary>
    public void CheckAllRead()
    {
        var unknown = Names.Where(n => !_read.Contains(n)).ToList();
        if (unknown.Count > 0)
            throw new ApiError(400, $"unknown field{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{Cut(u)}'"))} (this endpoint takes: {string.Join(", ", _read.Order())})");
    }

    sealed class JsonFields(JsonElement root) : RequestFields
    {
        protected override IEnumerable<string> Names => root.EnumerateObject().Select(p => p.Name);

        protected override object? Raw(string name)
        {
            object? found = null;
            foreach (var p in root.EnumerateObject())
                if (p.Name == name)
                {
                    if (found is not null) throw new ApiError(400, $"{name}: given twice");
                    found = p.Value;
                }
            return found is JsonElement { ValueKind: JsonValueKind.Null } ? null : found;
        }
    }

    sealed class TextFields(IEnumerable<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>> values) : RequestFields
    {
        readonly Dictionary<string, Microsoft.Extensions.Primitives.StringValues> _values = values.ToDictionary(kv => kv.Key, kv => kv.Value);

        protected override IEnumerable<string> Names => _values.Keys;

        protected override object? Raw(string name)
        {
            if (!_values.TryGetValue(name, out var v)) return null;
            if (v.Count > 1) throw new ApiError(400, $"{name}: given {v.Count} times");
            return v.ToString();
        }
    }
}
