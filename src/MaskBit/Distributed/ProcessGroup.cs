using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MaskBit.Distributed;

/// <summary>
/// The processes of one job, as an MPI launcher (<c>mpirun</c>, Slurm's <c>srun</c>, a Kubernetes MPI operator) started
/// them: rank, world size, and the collectives data-parallel work needs (all-reduce, broadcast, barrier) on tensors.
/// A process started without a launcher is a group of one: it never loads MPI and needs none installed.
/// <para>
/// MPI is Open MPI's C library (Debian's <c>libopenmpi-dev</c>: <c>libmpi.so.40</c>; <c>MASKBIT_MPI</c> names another
/// path) called through the library's own P/Invoke in this file: NuGet's MPI.NET is built for Microsoft MPI's integer
/// handles. Open MPI's handles are the addresses of its exported predefined objects (<c>MPI_COMM_WORLD</c> is
/// <c>&amp;ompi_mpi_comm_world</c>), and <c>MPI_IN_PLACE</c> is <c>(void*)1</c>.
/// </para>
/// </summary>
public sealed unsafe class ProcessGroup
{
    public const string LibraryVariable = "MASKBIT_MPI";

    /// <summary>This process's group: the launcher's, else a group of one. Joined (MPI initialised) on first use.</summary>
    public static ProcessGroup World => _world.Value;
    static readonly Lazy<ProcessGroup> _world = new(Join);

    public int Rank { get; }
    public int Size { get; }
    /// <summary>The rank among the processes of this machine, and their number (for threads per process).</summary>
    public int LocalRank { get; }
    public int LocalSize { get; }
    /// <summary>Rank 0: the process that writes checkpoints, logs, images and results.</summary>
    public bool IsMain => Rank == 0;
    public bool IsDistributed => Size > 1;

    readonly Mpi? _mpi;

    ProcessGroup(int rank, int size, int localRank, int localSize, Mpi? mpi) =>
        (Rank, Size, LocalRank, LocalSize, _mpi) = (rank, size, localRank, localSize, mpi);

    /// <summary>A group of one (what a process without a launcher is).</summary>
    public static ProcessGroup Single { get; } = new(0, 1, 0, 1, null);

    /// <summary>The world size the launcher's environment announces: Open MPI's, PMI's (MPICH, Intel MPI) or Slurm's
    /// inside a job step; 1 without a launcher.</summary>
    public static int LaunchedSize()
    {
        foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE" })
            if (int.TryParse(Environment.GetEnvironmentVariable(name), out int n)) return n;
        if (Environment.GetEnvironmentVariable("SLURM_STEP_ID") is not null && int.TryParse(Environment.GetEnvironmentVariable("SLURM_NTASKS"), out int tasks))
            return tasks;
        return 1;
    }

    static ProcessGroup Join()
    {
        int launched = LaunchedSize();
        if (launched <= 1) return Single;
        var mpi = Mpi.Load();
        int rank = mpi.Rank(), size = mpi.Size();
        if (size != launched)
            throw new InvalidOperationException($"MPI reports {size} processes, the launcher's environment {launched}: is {mpi.Path} the launcher's MPI?");
        int localRank = EnvInt("OMPI_COMM_WORLD_LOCAL_RANK") ?? EnvInt("MPI_LOCALRANKID") ?? EnvInt("SLURM_LOCALID") ?? 0;
        int localSize = EnvInt("OMPI_COMM_WORLD_LOCAL_SIZE") ?? EnvInt("MPI_LOCALNRANKS") ?? (EnvInt("SLURM_TASKS_PER_NODE") is int t ? t : size);
        return new ProcessGroup(rank, size, localRank, localSize, mpi);
    }

    static int? EnvInt(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : null;

    /// <summary>Waits until every process has come here.</summary>
    public void Barrier() => _mpi?.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");

    /// <summary>Sums <paramref name="t"/> over the processes, in place (every process gets the sum). CPU tensors are
    /// reduced where they are (made contiguous first), others through a host copy.</summary>
    public void AllReduceSum(Tensor t)
    {
        if (_mpi is null) return;
        OnHost(t, (data, count, type) => _mpi.Check(_mpi.Allreduce(Mpi.InPlace, data, count, type, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce"));
    }

    /// <summary>
    /// Averages the tensors over the processes, in place, packed into flat buckets of at most
    /// <paramref name="bucketElements"/> elements (one call per bucket, not per tensor): gradients after the last
    /// micro-batch, before clipping. Tensors of one bucket share a dtype and device.
    /// </summary>
    public void AllReduceMean(IEnumerable<Tensor> tensors, long bucketElements = 1 << 22)
    {
        if (_mpi is null) return;
        using var _ = no_grad();
        using var size = ((double)Size).ToScalar();
        var bucket = new List<Tensor>();
        long elements = 0;
        void Flush()
        {
            if (bucket.Count == 0) return;
            using var scope = NewDisposeScope();
            var flat = cat(bucket.Select(t => t.reshape(-1)).ToList(), 0); // a copy, contiguous
            AllReduceSum(flat);
            flat.div_(size);
            long offset = 0;
            foreach (var t in bucket)
            {
                t.copy_(flat.narrow(0, offset, t.numel()).view_as(t));
                offset += t.numel();
            }
            bucket.Clear();
            elements = 0;
        }
        foreach (var t in tensors)
        {
            if (bucket.Count > 0 && (elements + t.numel() > bucketElements || t.dtype != bucket[0].dtype || t.device_type != bucket[0].device_type || t.device_index != bucket[0].device_index)) Flush();
            bucket.Add(t);
            elements += t.numel();
        }
        Flush();
    }

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="t"/> into every process's, in place.</summary>
    public void Broadcast(Tensor t, int root = 0)
    {
        if (_mpi is null) return;
        OnHost(t, (data, count, type) => _mpi.Check(_mpi.Bcast(data, count, type, root, _mpi.CommWorld), "MPI_Bcast"));
    }

    /// <summary>Copies rank 0's tensors into every process's (parameters and buffers at the start of a run).</summary>
    public void Broadcast(IEnumerable<Tensor> tensors)
    {
        if (_mpi is null) return;
        foreach (var t in tensors) Broadcast(t);
    }

    /// <summary>
    /// The sum of <paramref name="t"/> over the processes, as autograd differentiates it: forward, every process gets the
    /// sum; backward, what reaches each process's <paramref name="t"/> is the sum of every process's gradient of the
    /// result. A statistic of the global batch made so (an average probability, a mean logit) gives every process the
    /// one-process loss and, once gradients are averaged, the one-process gradient. A group of one returns
    /// <paramref name="t"/> itself.
    /// </summary>
    public Tensor Sum(Tensor t) => _mpi is null ? t : SumFunction.apply(t, this);

    sealed class SumFunction : torch.autograd.SingleTensorFunction<SumFunction>
    {
        public override string Name => "ProcessGroupSum";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var group = (ProcessGroup)vars[1];
            ctx.save_data("group", group);
            var sum = ((Tensor)vars[0]).detach().clone();
            group.AllReduceSum(sum);
            return sum;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var grad = gradOutput.clone();
            ((ProcessGroup)ctx.get_data("group")).AllReduceSum(grad);
            return [grad, null!]; // TorchSharp counts every argument of apply, the group too (it has no gradient)
        }
    }

    /// <summary>The sum of a count over the processes.</summary>
    public long Sum(long value)
    {
        if (_mpi is null) return value;
        using var t = tensor(new[] { value });
        AllReduceSum(t);
        return t.item<long>();
    }

    /// <summary>Sums the values over the processes (metrics, counts), in place.</summary>
    public void AllReduceSum(double[] values)
    {
        if (_mpi is null || values.Length == 0) return;
        fixed (double* p = values)
            _mpi.Check(_mpi.Allreduce(Mpi.InPlace, (IntPtr)p, values.Length, _mpi.Double, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Ends every process of the job with <paramref name="code"/> (a failure in one rank would otherwise leave
    /// the others waiting in a collective).</summary>
    public void Abort(int code) => _mpi?.Abort(_mpi.CommWorld, code);

    // Elements per MPI call: MPI counts are 32-bit.
    const int MaxCount = int.MaxValue / 8;

    void OnHost(Tensor t, Action<IntPtr, int, IntPtr> call)
    {
        using var _ = no_grad();
        bool inPlace = t.device_type == DeviceType.CPU && t.is_contiguous();
        var host = inPlace ? t : t.detach().cpu().contiguous();
        try
        {
            var type = _mpi!.TypeOf(host.dtype);
            long elementSize = host.ElementSize, total = host.numel();
            var start = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(host.bytes));
            for (long offset = 0; offset < total; offset += MaxCount)
                call((IntPtr)(start + offset * elementSize), (int)Math.Min(MaxCount, total - offset), type);
            GC.KeepAlive(host);
            if (!inPlace) t.copy_(host);
        }
        finally
        {
            if (!inPlace) host.Dispose();
        }
    }

    /// <summary>Open MPI's C API: the entry points and predefined handles this file uses.</summary>
    sealed class Mpi
    {
        public static readonly IntPtr InPlace = 1;
        const int ThreadSerialized = 2, Success = 0;

        public string Path { get; }
        public IntPtr CommWorld { get; }
        public IntPtr OpSum { get; }
        public IntPtr Double { get; }
        readonly IntPtr _float, _int32, _int64, _byte;
        readonly delegate* unmanaged<int*, IntPtr, int, int*, int> _initThread;
        readonly delegate* unmanaged<IntPtr, int*, int> _commRank, _commSize;
        public readonly delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int> Allreduce;
        public readonly delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int> Bcast;
        public readonly delegate* unmanaged<IntPtr, int> Barrier;
        readonly delegate* unmanaged<IntPtr, int, int> _abort;
        readonly delegate* unmanaged<int> _finalize;

        Mpi(string path, IntPtr lib)
        {
            Path = path;
            IntPtr Export(string name) => NativeLibrary.TryGetExport(lib, name, out var address) ? address
                : throw new InvalidOperationException($"{path}: no symbol {name} (an Open MPI library is needed; set {LibraryVariable} to its libmpi.so)");
            CommWorld = Export("ompi_mpi_comm_world");
            OpSum = Export("ompi_mpi_op_sum");
            Double = Export("ompi_mpi_double");
            _float = Export("ompi_mpi_float");
            _int32 = Export("ompi_mpi_int32_t");
            _int64 = Export("ompi_mpi_int64_t");
            _byte = Export("ompi_mpi_byte");
            _initThread = (delegate* unmanaged<int*, IntPtr, int, int*, int>)Export("MPI_Init_thread");
            _commRank = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_rank");
            _commSize = (delegate* unmanaged<IntPtr, int*, int>)Export("MPI_Comm_size");
            Allreduce = (delegate* unmanaged<IntPtr, IntPtr, int, IntPtr, IntPtr, IntPtr, int>)Export("MPI_Allreduce");
            Bcast = (delegate* unmanaged<IntPtr, int, IntPtr, int, IntPtr, int>)Export("MPI_Bcast");
            Barrier = (delegate* unmanaged<IntPtr, int>)Export("MPI_Barrier");
            _abort = (delegate* unmanaged<IntPtr, int, int>)Export("MPI_Abort");
            _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        }

        public static Mpi Load()
        {
            var path = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } p ? p : "libmpi.so.40";
            if (!NativeLibrary.TryLoad(path, out var lib))
                throw new DllNotFoundException($"launched as one of {LaunchedSize()} processes, but cannot load MPI ({path}): install Open MPI (apt-get install libopenmpi-dev) or set {LibraryVariable}");
            // Ranks waiting in a collective yield their core instead of spinning on it (the launcher's setting wins).
            if (Environment.GetEnvironmentVariable("OMPI_MCA_mpi_yield_when_idle") is null)
                Environment.SetEnvironmentVariable("OMPI_MCA_mpi_yield_when_idle", "1");
            var mpi = new Mpi(path, lib);
            int provided;
            mpi.Check(mpi._initThread(null, IntPtr.Zero, ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < ThreadSerialized)
                throw new InvalidOperationException($"{path}: MPI gives thread level {provided}, {ThreadSerialized} (serialized) is needed");
            AppDomain.CurrentDomain.ProcessExit += (_, _) => mpi._finalize();
            return mpi;
        }

        public int Rank()
        {
            int r;
            Check(_commRank(CommWorld, &r), "MPI_Comm_rank");
            return r;
        }

        public int Size()
        {
            int s;
            Check(_commSize(CommWorld, &s), "MPI_Comm_size");
            return s;
        }

        public void Abort(IntPtr comm, int code) => _abort(comm, code);

        public IntPtr TypeOf(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => _float,
            ScalarType.Float64 => Double,
            ScalarType.Int32 => _int32,
            ScalarType.Int64 => _int64,
            ScalarType.Byte or ScalarType.Bool => _byte, // bool: one byte a value (broadcasts; a sum is meaningless)
            _ => throw new ArgumentException($"MPI collectives of {dtype} tensors are not supported (float32, float64, int32, int64, uint8, bool)"),
        };

        public void Check(int code, string call)
        {
            if (code != Success) throw new InvalidOperationException($"{call} failed with MPI error {code}");
        }
    }
}
