using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace MaskBit.Interop;

// A data-only reader of Python pickles (protocols 0-5 as written by torch.save and Lightning).
//
// Why our own reader and not Razorvine.Pickle: Razorvine maps globals through a process-wide static constructor
// registry (which TorchSharp.PyBridge also writes to), builds dicts as unordered Hashtables (the key-order loss of
// the earlier PyBridge-based reader), and how it treats classes nobody registered is its behaviour, not ours.
// With ~300 lines we own, "never runs code, every unknown class becomes data, dict order kept" is plain to see.
// Nothing here ever looks up or calls a Python name: GLOBAL/STACK_GLOBAL push a PickleGlobal (just the two
// strings); REDUCE/NEWOBJ ask an IPickleResolver (the torch layer knows a handful of rebuild functions) and
// otherwise build an opaque PickleObject; BUILD stores the state as data.

/// <summary>A reference to a Python global (<c>module.name</c>); never resolved.</summary>
sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>An instance of a class we do not interpret: its constructor, arguments and BUILD state, as data.</summary>
sealed class PickleObject(PickleGlobal type, object?[] args)
{
    public PickleGlobal Type { get; } = type;
    public object?[] Args { get; } = args;
    public object? State { get; set; }
    public override string ToString() => $"<{Type}>";
}

/// <summary>A Python dict (or OrderedDict): insertion order kept, re-assigning a key keeps its position.</summary>
sealed class PickleDict
{
    readonly List<KeyValuePair<object?, object?>> _items = [];
    readonly Dictionary<object, int> _index = new(PickleKeyComparer.Instance);
    static readonly object NullKey = new();

    /// <summary>Instance attributes set by BUILD (e.g. the <c>_metadata</c> of a state_dict OrderedDict); unused.</summary>
    public object? State { get; set; }
    public int Count => _items.Count;
    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;

    public void Set(object? key, object? value)
    {
        if (_index.TryGetValue(key ?? NullKey, out var i)) _items[i] = new(key, value);
        else { _index[key ?? NullKey] = _items.Count; _items.Add(new(key, value)); }
    }

    public bool TryGet(object? key, out object? value)
    {
        if (_index.TryGetValue(key ?? NullKey, out var i)) { value = _items[i].Value; return true; }
        value = null;
        return false;
    }
}

/// <summary>Python key equality for the key types pickles use: strings, numbers, tuples (object?[]) of those.</summary>
sealed class PickleKeyComparer : IEqualityComparer<object>
{
    public static readonly PickleKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) =>
        x is object?[] a && y is object?[] b ? a.Length == b.Length && a.Zip(b).All(p => Equals(p.First, p.Second)) : object.Equals(x, y);

    public int GetHashCode(object obj)
    {
        if (obj is not object?[] a) return obj.GetHashCode();
        var h = new HashCode();
        foreach (var e in a) h.Add(e is null ? 0 : GetHashCode(e));
        return h.ToHashCode();
    }
}

/// <summary>What the pickle's host format (torch zip / legacy torch) contributes: persistent ids and known reductions.</summary>
interface IPickleResolver
{
    /// <summary>The object a persistent id (BINPERSID/PERSID) stands for.</summary>
    object? PersistentLoad(object? pid);

    /// <summary><c>callable(*args)</c> for a callable the host knows (returns true), else false (the reader builds a PickleObject).</summary>
    bool TryReduce(PickleGlobal callable, object?[] args, out object? result);
}

/// <summary>The unpickler itself: a stack machine over the opcodes; one instance reads one pickle.</summary>
sealed class PickleReader(Stream stream, IPickleResolver resolver)
{
    readonly BinaryReader _in = new(stream, Encoding.UTF8, leaveOpen: true);
    readonly List<object?> _stack = [];
    readonly Stack<List<object?>> _marks = new();
    readonly Dictionary<long, object?> _memo = [];

    /// <summary>Reads one pickle up to its STOP opcode and returns the object it builds.</summary>
    public object? Load()
    {
        while (true)
        {
            int op = _in.ReadByte();
            switch (op)
            {
                case 0x80: _in.ReadByte(); break;                                 // PROTO
                case 0x95: _in.ReadInt64(); break;                                // FRAME (framing only: reading is sequential)
                case '.': return Pop();                                           // STOP
                case '(': _marks.Push([.. _stack]); _stack.Clear(); break;        // MARK: park the stack
                case '0': Pop(); break;                                           // POP
                case '1': PopMark(); break;                                       // POP_MARK
                case '2': Push(Peek()); break;                                    // DUP
                case 'N': Push(null); break;
                case 0x88: Push(true); break;                                     // NEWTRUE
                case 0x89: Push(false); break;                                    // NEWFALSE
                case 'J': Push((long)_in.ReadInt32()); break;                     // BININT
                case 'K': Push((long)_in.ReadByte()); break;                      // BININT1
                case 'M': Push((long)_in.ReadUInt16()); break;                    // BININT2
                case 0x8a: Push(ReadLong(_in.ReadByte())); break;                 // LONG1
                case 0x8b: Push(ReadLong(CheckedLength(_in.ReadInt32()))); break;   // LONG4
                case 'I': Push(ParseIntLine(ReadLine())); break;                  // INT (protocol 0; "01"/"00" are True/False)
                case 'L': Push(Narrow(BigInteger.Parse(ReadLine().TrimEnd('L')))); break; // LONG (protocol 0)
                case 'G': Push(BinaryPrimitives.ReadDoubleBigEndian(_in.ReadBytes(8))); break; // BINFLOAT
                case 'F': Push(double.Parse(ReadLine(), System.Globalization.CultureInfo.InvariantCulture)); break; // FLOAT
                case 'X': Push(ReadUtf8(CheckedLength(_in.ReadUInt32()))); break;  // BINUNICODE
                case 0x8c: Push(ReadUtf8(_in.ReadByte())); break;                  // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(CheckedLength(_in.ReadUInt64()))); break; // BINUNICODE8
                case 'V': Push(ReadLine()); break;                                 // UNICODE (raw-unicode-escape; ASCII in practice)
                case 'T': Push(ReadLatin1(CheckedLength(_in.ReadUInt32()))); break; // BINSTRING (Python 2 str)
                case 'U': Push(ReadLatin1(_in.ReadByte())); break;                 // SHORT_BINSTRING
                case 'B': Push(ReadBytes(CheckedLength(_in.ReadUInt32()))); break; // BINBYTES
                case 'C': Push(ReadBytes(_in.ReadByte())); break;                  // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(CheckedLength(_in.ReadUInt64()))); break; // BINBYTES8
                case 0x96: Push(ReadBytes(CheckedLength(_in.ReadUInt64()))); break; // BYTEARRAY8
                case ')': Push(Array.Empty<object?>()); break;                     // EMPTY_TUPLE
                case 0x85: Push(new[] { Pop() }); break;                           // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case 't': Push(PopMark().ToArray()); break;                        // TUPLE
                case ']': Push(new List<object?>()); break;                        // EMPTY_LIST
                case 'l': Push(PopMark()); break;                                  // LIST
                case 'a': { var v = Pop(); AsList(Peek()).Add(v); break; }         // APPEND
                case 'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case '}': Push(new PickleDict()); break;                           // EMPTY_DICT
                case 'd': Push(DictOf(PopMark())); break;                          // DICT
                case 's': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); break; } // SETITEM
                case 'u': { var items = PopMark(); var d = AsDict(Peek()); for (int i = 0; i + 1 < items.Count; i += 2) d.Set(items[i], items[i + 1]); break; } // SETITEMS
                // Sets are kept as lists of their elements (data only; nothing we read needs set semantics).
                case 0x8f: Push(new List<object?>()); break;                       // EMPTY_SET
                case 0x90: { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // ADDITEMS
                case 0x91: Push(PopMark()); break;                                 // FROZENSET
                case 'g': Push(MemoGet(long.Parse(ReadLine()))); break;            // GET
                case 'h': Push(MemoGet(_in.ReadByte())); break;                    // BINGET
                case 'j': Push(MemoGet(_in.ReadUInt32())); break;                  // LONG_BINGET
                case 'p': _memo[long.Parse(ReadLine())] = Peek(); break;           // PUT
                case 'q': _memo[_in.ReadByte()] = Peek(); break;                   // BINPUT
                case 'r': _memo[_in.ReadUInt32()] = Peek(); break;                 // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                     // MEMOIZE
                case 'c': { var module = ReadLine(); Push(new PickleGlobal(module, ReadLine())); break; } // GLOBAL
                case 0x93: { var name = Pop(); var module = Pop(); Push(new PickleGlobal(AsString(module), AsString(name))); break; } // STACK_GLOBAL
                case 'R': { var args = AsTuple(Pop()); Push(Reduce(Pop(), args)); break; } // REDUCE
                case 0x81: { var args = AsTuple(Pop()); Push(Reduce(Pop(), args)); break; } // NEWOBJ (cls.__new__(cls, *args))
                case 0x92: { Pop(); var args = AsTuple(Pop()); Push(Reduce(Pop(), args)); break; } // NEWOBJ_EX (kwargs dropped)
                case 'i': { var module = ReadLine(); var cls = new PickleGlobal(module, ReadLine()); Push(Reduce(cls, PopMark().ToArray())); break; } // INST
                case 'o': { var items = PopMark(); Push(Reduce(items[0], items.Skip(1).ToArray())); break; } // OBJ
                case 'b': { var state = Pop(); Build(Peek(), state); break; }     // BUILD
                case 'Q': Push(resolver.PersistentLoad(Pop())); break;             // BINPERSID
                case 'P': Push(resolver.PersistentLoad(ReadLine())); break;        // PERSID
                case -1: throw new EndOfStreamException();
                default: throw new InvalidDataException($"unsupported pickle opcode 0x{op:x2} at byte {stream.Position - 1}");
            }
        }
    }

    object? Reduce(object? callable, object?[] args)
    {
        if (callable is not PickleGlobal g) throw new InvalidDataException($"pickle calls a non-global ({callable?.GetType().Name ?? "None"})");
        return resolver.TryReduce(g, args, out var result) ? result : new PickleObject(g, args);
    }

    static void Build(object? target, object? state)
    {
        switch (target)
        {
            case PickleObject o: o.State = state; break;
            case PickleDict d: d.State = state; break;
            // BUILD on anything else (e.g. a rebuilt tensor's python attributes) carries nothing we use.
        }
    }

    void Push(object? o) => _stack.Add(o);

    object? Pop()
    {
        if (_stack.Count == 0) throw new InvalidDataException("pickle stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    object? Peek() => _stack.Count > 0 ? _stack[^1] : throw new InvalidDataException("pickle stack underflow");

    /// <summary>The items pushed since the last MARK; the stack below the mark is restored.</summary>
    List<object?> PopMark()
    {
        if (_marks.Count == 0) throw new InvalidDataException("pickle has no MARK to pop to");
        var items = new List<object?>(_stack);
        _stack.Clear();
        _stack.AddRange(_marks.Pop());
        return items;
    }

    object? MemoGet(long i) => _memo.TryGetValue(i, out var o) ? o : throw new InvalidDataException($"pickle memo entry {i} missing");

    static PickleDict DictOf(List<object?> items)
    {
        var d = new PickleDict();
        for (int i = 0; i + 1 < items.Count; i += 2) d.Set(items[i], items[i + 1]);
        return d;
    }

    static List<object?> AsList(object? o) => o as List<object?> ?? throw new InvalidDataException($"pickle appends to a {Describe(o)}");
    static PickleDict AsDict(object? o) => o as PickleDict ?? throw new InvalidDataException($"pickle sets an item on a {Describe(o)}");
    static object?[] AsTuple(object? o) => o as object?[] ?? throw new InvalidDataException($"pickle call arguments are a {Describe(o)}, not a tuple");
    static string AsString(object? o) => o as string ?? throw new InvalidDataException($"pickle global name is a {Describe(o)}");

    internal static string Describe(object? o) => o switch
    {
        null => "None",
        PickleObject p => p.Type.ToString(),
        PickleDict => "dict",
        List<object?> => "list",
        object?[] => "tuple",
        _ => o.GetType().Name,
    };

    static int CheckedLength(long n) =>
        n is >= 0 and <= int.MaxValue ? (int)n : throw new InvalidDataException($"pickle item length {n} out of range");

    static int CheckedLength(ulong n) => CheckedLength(n > long.MaxValue ? -1 : (long)n);

    byte[] ReadBytes(int n)
    {
        // A corrupt length must not allocate gigabytes before the read fails.
        if (stream.CanSeek && n > stream.Length - stream.Position) throw new EndOfStreamException();
        var b = _in.ReadBytes(n);
        return b.Length == n ? b : throw new EndOfStreamException();
    }

    string ReadUtf8(int n) => Encoding.UTF8.GetString(ReadBytes(n));
    string ReadLatin1(int n) => Encoding.Latin1.GetString(ReadBytes(n));

    object ReadLong(int n) => Narrow(new BigInteger(ReadBytes(n), isUnsigned: false, isBigEndian: false));

    static object Narrow(BigInteger v) => v >= long.MinValue && v <= long.MaxValue ? (long)v : v;

    static object ParseIntLine(string s) => s switch { "01" => true, "00" => false, _ => long.Parse(s) };

    string ReadLine()
    {
        var sb = new StringBuilder();
        for (int b = _in.ReadByte(); b != '\n'; b = _in.ReadByte())
        {
            if (sb.Length > 65536) throw new InvalidDataException("pickle text line too long");
            sb.Append((char)b);
        }
        return sb.ToString();
    }
}

/// <summary>A minimal protocol-2 pickle writer: just what a torch state-dict file needs.</summary>
sealed class PickleWriter(Stream stream)
{
    readonly BinaryWriter _out = new(stream, Encoding.UTF8, leaveOpen: true);

    public void Proto(byte version) { _out.Write((byte)0x80); _out.Write(version); }
    public void Stop() => _out.Write((byte)'.');
    public void Mark() => _out.Write((byte)'(');
    public void EmptyTuple() => _out.Write((byte)')');
    public void Tuple() => _out.Write((byte)'t');
    public void Reduce() => _out.Write((byte)'R');
    public void SetItems() => _out.Write((byte)'u');
    public void BinPersId() => _out.Write((byte)'Q');
    public void False() => _out.Write((byte)0x89);

    public void Global(string module, string name)
    {
        _out.Write((byte)'c');
        _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    public void String(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        _out.Write((byte)'X');
        _out.Write((uint)b.Length);
        _out.Write(b);
    }

    public void Int(long v)
    {
        if (v is >= 0 and < 256) { _out.Write((byte)'K'); _out.Write((byte)v); }
        else if (v is >= 0 and < 65536) { _out.Write((byte)'M'); _out.Write((ushort)v); }
        else if (v is >= int.MinValue and <= int.MaxValue) { _out.Write((byte)'J'); _out.Write((int)v); }
        else
        {
            var b = new BigInteger(v).ToByteArray(isUnsigned: false, isBigEndian: false);
            _out.Write((byte)0x8a); _out.Write((byte)b.Length); _out.Write(b);
        }
    }

    /// <summary>A tuple of ints, e.g. a tensor's size or stride.</summary>
    public void IntTuple(IEnumerable<long> values)
    {
        Mark();
        foreach (var v in values) Int(v);
        Tuple();
    }
}
