using Spectre.Console;

namespace MaskBit.Cli;

/// <summary>A progress bar with rate and ETA (Spectre.Console) around a unit of work.</summary>
static class Progress
{
    public static void Run(string description, double total, Action<Action<double>> work) =>
        Run<int>(description, total, advance => { work(advance); return 0; });

    /// <summary>The same for work that returns a result.</summary>
    public static T Run<T>(string description, double total, Func<Action<double>, T> work) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new TransferSpeedlessRateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: total);
                return work(n => task.Increment(n));
            });

    /// <summary>"N.NN it/s" column.</summary>
    sealed class TransferSpeedlessRateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double s ? $"{s:F2} it/s" : "-- it/s");
    }
}
