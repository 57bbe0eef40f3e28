namespace MaskBit.Tests;

/// <summary>
/// Tests that depend on the process-wide torch generator (<c>manual_seed</c> before building a model, dropout draws in
/// training) run alone: xunit runs test classes in parallel, and another class's draws would interleave with theirs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global torch generator";
}
