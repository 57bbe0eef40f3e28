using System.Globalization;
using MaskBit.Interop;

namespace MaskBit.Data;

/// <summary>
/// Token indices of a set of images, as <c>maskbit tokenize</c> writes them: <see cref="Tokens"/> int64 [N, h*w]
/// (row-major grid), the source image of each row, the grid side and the codebook size they index.
/// Stored as <c>.safetensors</c> (tensor <c>tokens</c>, the rest in the header metadata) or as <c>.txt</c>
/// (a <c># maskbit-tokens grid=G codebook=K</c> header, then one line per image: source, tab, indices).
/// </summary>
public sealed record TokenFile(Tensor Tokens, IReadOnlyList<string> Sources, int GridSize, long CodebookSize)
{
    const string Format = "maskbit-tokens";

    static bool IsText(string path) => Path.GetExtension(path).Equals(".txt", StringComparison.OrdinalIgnoreCase);

    public static void Write(string path, TokenFile file)
    {
        var t = file.Tokens.to(int64).cpu();
        if (t.dim() != 2 || t.shape[1] != (long)file.GridSize * file.GridSize || t.shape[0] != file.Sources.Count)
            throw new ArgumentException($"{path}: tokens [{string.Join(", ", t.shape)}] do not fit {file.Sources.Count} images of a {file.GridSize}x{file.GridSize} grid");
        if (IsText(path))
        {
            var rows = t.data<long>().ToArray();
            var lines = new List<string> { $"# {Format} grid={file.GridSize} codebook={file.CodebookSize}" };
            for (int i = 0; i < file.Sources.Count; i++)
                lines.Add(file.Sources[i].Replace('\t', ' ') + "\t" + string.Join(' ', rows.Skip(i * (int)t.shape[1]).Take((int)t.shape[1])));
            AtomicFile.WriteAllText(path, string.Join('\n', lines) + "\n");
            return;
        }
        var metadata = new Dictionary<string, string>
        {
            ["content"] = Format,
            ["grid"] = file.GridSize.ToString(CultureInfo.InvariantCulture),
            ["codebook_size"] = file.CodebookSize.ToString(CultureInfo.InvariantCulture),
            ["sources"] = string.Join('\n', file.Sources),
        };
        Checkpoint.WriteStateDict(path, [new("tokens", t)], metadata);
    }

    public static TokenFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such token file");
        return IsText(path) ? ReadText(path) : ReadSafeTensors(path);
    }

    static TokenFile ReadSafeTensors(string path)
    {
        var (tensors, metadata) = Checkpoint.ReadSafeTensors(path);
        string Meta(string key) => metadata.TryGetValue(key, out var v) ? v
            : throw new InvalidDataException($"{path}: not a token file (metadata '{key}' missing)");
        if (Meta("content") != Format || !tensors.TryGetValue("tokens", out var tokens))
            throw new InvalidDataException($"{path}: not a token file written by maskbit tokenize");
        var sources = Meta("sources").Split('\n');
        return new TokenFile(tokens, sources, int.Parse(Meta("grid"), CultureInfo.InvariantCulture), long.Parse(Meta("codebook_size"), CultureInfo.InvariantCulture));
    }

    static TokenFile ReadText(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var header = lines.Count > 0 ? lines[0].Split(' ') : [];
        if (header.Length != 4 || header[0] != "#" || header[1] != Format || !header[2].StartsWith("grid=") || !header[3].StartsWith("codebook="))
            throw new InvalidDataException($"{path}: not a token file (expected a '# {Format} grid=G codebook=K' first line)");
        int grid = int.Parse(header[2]["grid=".Length..], CultureInfo.InvariantCulture);
        long codebook = long.Parse(header[3]["codebook=".Length..], CultureInfo.InvariantCulture);
        var sources = new List<string>();
        var values = new List<long>();
        for (int i = 1; i < lines.Count; i++)
        {
            var parts = lines[i].Split('\t');
            var row = parts.Length == 2 ? parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            if (row.Length != grid * grid || !row.All(v => long.TryParse(v, CultureInfo.InvariantCulture, out var x) && x >= 0 && x < codebook))
                throw new InvalidDataException($"{path}:{i + 1}: expected a source, a tab and {grid * grid} indices in [0, {codebook})");
            sources.Add(parts[0]);
            values.AddRange(row.Select(v => long.Parse(v, CultureInfo.InvariantCulture)));
        }
        if (sources.Count == 0) throw new InvalidDataException($"{path}: token file holds no images");
        return new TokenFile(tensor(values.ToArray()).reshape(sources.Count, grid * grid), sources, grid, codebook);
    }
}
