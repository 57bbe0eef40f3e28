namespace MaskBit.Cli;

/// <summary>
/// The models the project trained and ships under <c>models/</c>, copied next to the <c>maskbit</c> executable by the
/// build (and so into the tool package): what model commands use when no model is named, and <c>score</c>'s classifier.
/// </summary>
static class BundledModels
{
    /// <summary>The Fashion-MNIST tokenizer + class-conditional generator (a model folder).</summary>
    public static string Generator => Path.Combine(AppContext.BaseDirectory, "models", "fmnist");

    /// <summary>The Fashion-MNIST classifier that judges samples (a classifier folder).</summary>
    public static string Classifier => Path.Combine(AppContext.BaseDirectory, "models", "fmnist-classifier");
}
