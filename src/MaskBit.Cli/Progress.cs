using Spectre.Console;

namespace MaskBit.Cli;

/// <summary>A progress bar with rate and ETA (Spectre.Console) around a unit of work.</summary>
static class Progress
{
    public static void Run(string description, double total, Action<Action<double>> work) =>
        Run<int>(description, total, advance => { work(advance); return 0; });

    /// <summary>The same for work that returns a result.</summary>
    public static T Run<T>(string description, double total, Func<Action<double>, T> work) =>
        Run([(description, total)], advance => work(n => advance(0, n)));

    /// <summary>Work whose size it finds out itself: <c>report(done, total)</c>.</summary>
    public static T Run<T>(string description, Func<Action<long, long>, T> work) =>
        Start(ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(description), maxValue: 1);
            return work((done, total) => { task.MaxValue = total; task.Value = done; });
        });

    /// <summary>Work of several phases, a bar each: <c>advance(phase, n)</c>.</summary>
    public static T Run<T>(IReadOnlyList<(string Description, double Total)> phases, Func<Action<int, double>, T> work) =>
        Start(ctx =>
        {
            var tasks = phases.Select(p => ctx.AddTask(Markup.Escape(p.Description), maxValue: p.Total)).ToList();
            return work((phase, n) => tasks[phase].Increment(n));
        });

    static T Start<T>(Func<ProgressContext, T> work) =>
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new TransferSpeedlessRateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(work);

    /// <summary>"N.NN it/s" column.</summary>
    sealed class TransferSpeedlessRateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double s ? $"{s:F2} it/s" : "-- it/s");
    }
}
