using MaskBit.Distributed;
using Spectre.Console;

namespace MaskBit.Cli;

/// <summary>A progress bar with rate and ETA (Spectre.Console) around a unit of work. Under an MPI launcher only
/// rank 0 draws bars: the other ranks run the same work silently.</summary>
static class Progress
{
    public static void Run(string description, double total, Action<Action<double>> work) =>
        Run<int>(description, total, advance => { work(advance); return 0; });

    /// <summary>The same for work that returns a result.</summary>
    public static T Run<T>(string description, double total, Func<Action<double>, T> work) =>
        Run([(description, total)], advance => work(n => advance(0, n)));

    /// <summary>Work whose size it finds out itself: <c>report(done, total)</c>.</summary>
    public static T Run<T>(string description, Func<Action<long, long>, T> work) =>
        Start(add =>
        {
            var task = add(description, 1);
            return work((done, total) => { if (task is null) return; task.MaxValue = total; task.Value = done; });
        });

    /// <summary>Work of several phases, a bar each: <c>advance(phase, n)</c>.</summary>
    public static T Run<T>(IReadOnlyList<(string Description, double Total)> phases, Func<Action<int, double>, T> work) =>
        Start(add =>
        {
            var tasks = phases.Select(p => add(p.Description, p.Total)).ToList();
            return work((phase, n) => tasks[phase]?.Increment(n));
        });

    /// <summary>Runs <paramref name="work"/> with a function that adds a bar (null where none is drawn).</summary>
    static T Start<T>(Func<Func<string, double, ProgressTask?>, T> work) => !ProcessGroup.World.IsMain
        ? work((_, _) => null)
        : AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new TransferSpeedlessRateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => work((description, total) => ctx.AddTask(Markup.Escape(description), maxValue: total)));

    /// <summary>"N.NN it/s" column.</summary>
    sealed class TransferSpeedlessRateColumn : ProgressColumn
    {
        public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is double s ? $"{s:F2} it/s" : "-- it/s");
    }
}
