namespace MaskBit.Tests.Nn;

/// <summary>
/// Garbage-collector pressure beside the code under test: a background thread that allocates managed memory without
/// pause (small arrays, and 100 KB arrays that land on the large-object heap and so trigger full collections) and
/// forces a gen-0 collection every few hundred microseconds. Each collection can finalize an object whose native
/// handle another thread has read and is still using; code that keeps its Scalars and Tensors alive through every
/// native call runs unharmed. Dispose stops the thread and reports how many collections it caused.
/// </summary>
sealed class GcPressure : IDisposable
{
    readonly Thread _thread;
    readonly int _gen0Before = GC.CollectionCount(0), _gen2Before = GC.CollectionCount(2);
    volatile bool _stop;

    public GcPressure()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "gc-pressure" };
        _thread.Start();
    }

    void Run()
    {
        var keep = new object[64];
        for (long i = 0; !_stop; i++)
        {
            keep[i % keep.Length] = (i & 7) == 0 ? new byte[100_000] : new byte[1_000];
            if ((i & 63) == 0) GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        }
    }

    public int Gen0Collections => GC.CollectionCount(0) - _gen0Before;
    public int Gen2Collections => GC.CollectionCount(2) - _gen2Before;

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
