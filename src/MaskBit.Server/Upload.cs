using MaskBit.Imaging;
using Microsoft.AspNetCore.Http;

namespace MaskBit.Server;

/// <summary>
/// A multipart request of an editing endpoint: its text fields (<see cref="Fields"/>) and its image files, decoded with
/// the pixel limit checked from each file's header. A file field the endpoint does not read is an error, as a text one is.
/// </summary>
sealed class Upload
{
    readonly Dictionary<string, IFormFile> _files;
    readonly HashSet<string> _read = [];
    readonly long _maxPixels;

    public RequestFields Fields { get; }

    Upload(IFormCollection form, long maxPixels)
    {
        _maxPixels = maxPixels;
        var duplicate = form.Files.GroupBy(f => f.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ApiError(400, $"{duplicate.Key}: given {duplicate.Count()} files, expected one");
        _files = form.Files.ToDictionary(f => f.Name);
        Fields = RequestFields.FromText(form.Where(kv => !_files.ContainsKey(kv.Key)));
    }

    public static async Task<Upload> Read(HttpContext context, ServeOptions options)
    {
        if (!context.Request.HasFormContentType || !(context.Request.ContentType ?? "").StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            throw new ApiError(415, "expected multipart/form-data with the image file(s) and the fields");
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        return new Upload(form, options.MaxImagePixels);
    }

    /// <summary>The image in file field <paramref name="name"/>, decoded; null when absent and not <paramref name="required"/>.</summary>
    public RgbImage? Image(string name, bool required)
    {
        _read.Add(name);
        if (!_files.TryGetValue(name, out var file))
            return required ? throw new ApiError(400, $"{name}: missing (an image file in this multipart field)") : null;
        using var stream = new MemoryStream();
        file.CopyTo(stream);
        string source = $"'{name}' ({Path.GetFileName(file.FileName)}, {file.Length:N0} bytes)";
        if (stream.Length == 0) throw new ApiError(400, $"image {source} is empty");
        return Images.Decode(stream.ToArray(), source, _maxPixels);
    }

    /// <summary>Ends the reading: an unknown text or file field is an error.</summary>
    public void CheckAllRead()
    {
        var unknown = _files.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new ApiError(400, $"unknown file field{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}");
        Fields.CheckAllRead();
    }
}
