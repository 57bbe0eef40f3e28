using System.Text.RegularExpressions;

namespace MaskBit.Tests.Docs;

/// <summary>
/// The source comments' citations resolve: "fidelity 7.2" / "fidelity Q14" (and lists such as "fidelity 1.1-1.5, 2,
/// 9.2") name headings of docs/fidelity.md, "tests/golden/README.md, case L" a case of the golden README, and no
/// comment cites a document the repository does not hold ("spec 7.2", "quirk 14").
/// </summary>
public class FidelityReferencesTests
{
    static readonly Regex Citation = new(@"\bfidelity (Q?\d+(?:\.\d+)?(?:(?:, |-| and )Q?\d+(?:\.\d+)?)*)", RegexOptions.IgnoreCase);
    static readonly Regex GoldenCitation = new(@"tests/golden/README\.md, cases? ([A-Z](?:, [A-Z])*)");
    static readonly Regex Unresolvable = new(@"\b((?i:spec|quirks?) \d|golden (case|README) [A-Z]\b|README section [A-Z]\b)");

    static IEnumerable<(string File, int Line, string Text)> SourceLines() =>
        new[] { "src", "tests" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(Golden.RepoRoot, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => !f.EndsWith(nameof(FidelityReferencesTests) + ".cs", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((text, i) => (Path.GetRelativePath(Golden.RepoRoot, f), i + 1, text)));

    /// <summary>The numbers of the headings of a Markdown file: "## 2 Quantizers" -> "2", "### Q14 EMA ..." -> "Q14".</summary>
    static HashSet<string> Headings(string path, string pattern) =>
        File.ReadLines(path).Select(l => Regex.Match(l, pattern)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();

    [Fact]
    public void EveryFidelityCitationNamesAHeadingOfTheDocument()
    {
        var headings = Headings(Path.Combine(Golden.RepoRoot, "docs", "fidelity.md"), @"^#{2,3} (Q?\d+(?:\.\d+)?) ");
        Assert.Contains("7.2", headings);
        Assert.Contains("Q14", headings);
        var citations = SourceLines().SelectMany(l => Citation.Matches(l.Text).SelectMany(m =>
            Regex.Split(m.Groups[1].Value, "(?:, |-| and )").Select(n => (l.File, l.Line, Number: n.ToUpperInvariant())))).ToList();
        Assert.True(citations.Count >= 40, $"only {citations.Count} citations found: is the pattern still the one the comments use?");
        var broken = citations.Where(c => !headings.Contains(c.Number)).Select(c => $"{c.File}:{c.Line}: fidelity {c.Number}").ToList();
        Assert.True(broken.Count == 0, "no such heading in docs/fidelity.md: " + string.Join("; ", broken));
    }

    [Fact]
    public void EveryGoldenCaseCitationNamesACaseOfTheGoldenReadme()
    {
        // "### A `tokenizer_lfq_small` and B `tokenizer_lfq_mult5`": every capital letter before a case's folder name.
        var cases = File.ReadLines(Path.Combine(Golden.RepoCopy, "README.md")).Where(l => l.StartsWith("### ", StringComparison.Ordinal))
            .SelectMany(l => Regex.Matches(l, @"\b([A-Z])'? `").Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.Superset(new HashSet<string> { "A", "B", "I", "J", "N" }, cases);
        var cited = SourceLines().SelectMany(l => GoldenCitation.Matches(l.Text).SelectMany(m =>
            m.Groups[1].Value.Split(", ").Select(c => (l.File, l.Line, Case: c)))).ToList();
        Assert.NotEmpty(cited);
        var broken = cited.Where(c => !cases.Contains(c.Case)).Select(c => $"{c.File}:{c.Line}: case {c.Case}").ToList();
        Assert.True(broken.Count == 0, "no such case in tests/golden/README.md: " + string.Join("; ", broken));
    }

    [Fact]
    public void NoCommentCitesADocumentOutsideTheRepository()
    {
        var found = SourceLines().Where(l => Unresolvable.IsMatch(l.Text)).Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}").ToList();
        Assert.True(found.Count == 0, "cite docs/fidelity.md (\"fidelity 7.2\", \"fidelity Q14\") instead: " + string.Join("; ", found));
    }
}
