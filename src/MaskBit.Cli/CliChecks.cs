namespace MaskBit.Cli;

static class CliChecks
{
    public static int Positive(int value, string option) =>
        value >= 1 ? value : throw new ArgumentException($"{option} must be >= 1, got {value}");
}
