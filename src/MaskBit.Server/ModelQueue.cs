using System.Collections.Concurrent;
using System.Diagnostics;

namespace MaskBit.Server;

/// <summary>What the queue has done since it started (<c>GET /api/health</c>). Failed: jobs that ended in an error,
/// bad input found on the model's thread (a mask of the wrong size) included.</summary>
public readonly record struct QueueCounts(int Capacity, int Waiting, bool Running, long Completed, long Failed, long Cancelled,
    long TimedOut, long Rejected, double MeanSeconds);

/// <summary>
/// The one model in front of many requests: a single worker thread runs the model's work one job at a time (the
/// model's intra-op threads already use every core, and TorchSharp's dispose scopes are per thread), behind a line of
/// at most <c>capacity</c> waiting jobs. A job that cannot wait is refused at once (429 with an estimated Retry-After);
/// a job whose client went away or whose time ran out leaves the line, or stops at its next cancellation check if it
/// is running (the work passes the token to every decoding step).
/// </summary>
public sealed class ModelQueue : IDisposable
{
    readonly BlockingCollection<Job> _jobs = new();
    readonly Thread _worker;
    readonly int _capacity;
    readonly TimeSpan _timeout;
    readonly CancellationTokenSource _stopping = new();
    int _pending, _running;  // pending: waiting + running
    long _completed, _failed, _cancelled, _timedOut, _rejected;
    double _meanSeconds = 1;  // a running mean of job durations, for Retry-After

    public ModelQueue(int capacity, TimeSpan timeout)
    {
        _capacity = capacity;
        _timeout = timeout;
        _worker = new Thread(Work) { IsBackground = true, Name = "maskbit-model" };
        _worker.Start();
    }

    public QueueCounts Counts
    {
        get
        {
            int running = Volatile.Read(ref _running);
            return new(_capacity, Math.Max(0, Volatile.Read(ref _pending) - running), running == 1,
                Interlocked.Read(ref _completed), Interlocked.Read(ref _failed), Interlocked.Read(ref _cancelled),
                Interlocked.Read(ref _timedOut), Interlocked.Read(ref _rejected), Volatile.Read(ref _meanSeconds));
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the model's thread and returns its result. Throws <see cref="ApiError"/> 429 when
    /// the line is full, 504 when the request's time runs out (queue wait included), 503 when the server is stopping;
    /// <see cref="OperationCanceledException"/> when <paramref name="aborted"/> fires (the client is gone). The token
    /// given to the work fires on either.
    /// </summary>
    public Task<T> Run<T>(Func<CancellationToken, T> work, CancellationToken aborted)
    {
        if (Interlocked.Increment(ref _pending) > _capacity + 1)
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Increment(ref _rejected);
            int retry = (int)Math.Clamp(Math.Ceiling(Volatile.Read(ref _meanSeconds) * (_capacity + 1)), 1, 600);
            throw new ApiError(429, $"the model is busy: {_capacity} request(s) already wait; retry in about {retry} s", retry);
        }
        var job = new Job<T>(this, work, aborted);
        try { _jobs.Add(job); }
        catch (InvalidOperationException)
        {
            job.Stop();
            job.Dispose();
        }
        return job.Task;
    }

    void Work()
    {
        foreach (var job in _jobs.GetConsumingEnumerable())
        {
            if (job.TryStart())
            {
                Volatile.Write(ref _running, 1);
                var clock = Stopwatch.StartNew();
                job.Execute();
                Volatile.Write(ref _meanSeconds, 0.8 * Volatile.Read(ref _meanSeconds) + 0.2 * clock.Elapsed.TotalSeconds);
                Volatile.Write(ref _running, 0);
                Interlocked.Decrement(ref _pending);
            }
            job.Dispose();  // a job that left the line while waiting is only disposed
        }
    }

    /// <summary>Refuses new jobs, ends the waiting ones with 503, stops the running one at its next check and joins the thread.</summary>
    public void Dispose()
    {
        if (_jobs.IsAddingCompleted) return;
        _jobs.CompleteAdding();
        _stopping.Cancel();
        foreach (var job in _jobs) job.Stop();
        _worker.Join();
        _jobs.Dispose();
        _stopping.Dispose();
    }

    abstract class Job : IDisposable
    {
        public abstract bool TryStart();
        public abstract void Execute();
        public abstract void Stop();
        public abstract void Dispose();
    }

    sealed class Job<T> : Job
    {
        const int Waiting = 0, Started = 1, Left = 2;
        readonly ModelQueue _queue;
        readonly Func<CancellationToken, T> _work;
        readonly CancellationToken _aborted;
        readonly CancellationTokenSource _timeout;
        readonly CancellationTokenSource _token;
        readonly CancellationTokenRegistration _onCancel;
        readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int _state;

        public Job(ModelQueue queue, Func<CancellationToken, T> work, CancellationToken aborted)
        {
            _queue = queue;
            _work = work;
            _aborted = aborted;
            _timeout = new CancellationTokenSource(queue._timeout);
            _token = CancellationTokenSource.CreateLinkedTokenSource(aborted, _timeout.Token, queue._stopping.Token);
            // The request ends at once: a waiting job leaves the line, a running one also stops at its next check.
            _onCancel = _token.Token.Register(() => { Leave(); Cancelled(); });
        }

        public Task<T> Task => _result.Task;

        public override bool TryStart() => Interlocked.CompareExchange(ref _state, Started, Waiting) == Waiting;

        // Leaves the line if still waiting (the pending count drops with it); false once started.
        bool Leave()
        {
            if (Interlocked.CompareExchange(ref _state, Left, Waiting) != Waiting) return false;
            Interlocked.Decrement(ref _queue._pending);
            return true;
        }

        public override void Execute()
        {
            try
            {
                var value = _work(_token.Token);
                if (_result.TrySetResult(value)) Interlocked.Increment(ref _queue._completed);
            }
            catch (OperationCanceledException) when (_token.IsCancellationRequested) { Cancelled(); }
            catch (Exception e)
            {
                if (_result.TrySetException(e)) Interlocked.Increment(ref _queue._failed);
            }
        }

        public override void Stop()
        {
            if (Leave()) _result.TrySetException(new ApiError(503, "the server is stopping"));
        }

        void Cancelled()
        {
            if (_aborted.IsCancellationRequested)
            {
                if (_result.TrySetException(new OperationCanceledException("the client went away", _aborted))) Interlocked.Increment(ref _queue._cancelled);
                return;
            }
            bool timedOut = _timeout.IsCancellationRequested;
            Exception error = timedOut
                ? new ApiError(504, $"the request took longer than {_queue._timeout.TotalSeconds:0.#} s (queue wait included) and was stopped")
                : new ApiError(503, "the server is stopping");
            if (_result.TrySetException(error)) Interlocked.Increment(ref timedOut ? ref _queue._timedOut : ref _queue._cancelled);
        }

        // After the worker is done with the job (or it never reached it): waits for a cancellation callback in flight.
        public override void Dispose()
        {
            _onCancel.Dispose();
            _token.Dispose();
            _timeout.Dispose();
        }
    }
}
