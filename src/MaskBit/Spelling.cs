namespace MaskBit;

/// <summary>"Did you mean" suggestions for mistyped config keys and class names.</summary>
public static class Spelling
{
    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    public static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>The candidate closest to <paramref name="word"/> when it is close enough to be a typo, else null.</summary>
    public static string? Closest(IEnumerable<string> candidates, string word)
    {
        var best = candidates.MinBy(c => EditDistance(c, word));
        return best is not null && EditDistance(best, word) <= Math.Max(2, word.Length / 3) ? best : null;
    }
}
