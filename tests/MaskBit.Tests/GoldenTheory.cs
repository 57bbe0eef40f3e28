namespace MaskBit.Tests;

/// <summary>
/// A theory over the golden cases of one kind. A fixture set without any case of that kind skips it with a reason
/// (xunit 2 would otherwise fail a theory that has no data), so the tests run unchanged on partial fixture sets.
/// </summary>
public sealed class GoldenTheoryAttribute : TheoryAttribute
{
    public GoldenTheoryAttribute(string kind)
    {
        if (!Golden.Cases(kind).Any()) Skip = $"no golden case of kind '{kind}' under {Golden.Dir}";
    }
}

/// <summary>A theory over the manifests of some config groups; skipped with a reason when the fixture set has none.</summary>
public sealed class ManifestTheoryAttribute : TheoryAttribute
{
    public ManifestTheoryAttribute(params string[] groups)
    {
        if (Manifests.Files(groups).Count == 0) Skip = $"no manifest of {string.Join("/", groups)} under {Golden.Dir}";
    }
}
