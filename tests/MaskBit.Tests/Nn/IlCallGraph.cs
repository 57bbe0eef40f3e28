using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace MaskBit.Tests.Nn;

/// <summary>
/// The calls each method of a compiled assembly makes (<c>call</c>, <c>callvirt</c>, <c>newobj</c>, <c>ldftn</c>),
/// read from its IL with System.Reflection.Metadata. Methods are named <c>Namespace.Type/Nested::Name(ParamTypes)</c>
/// the same way in every assembly, so a call in one assembly names the method defined in another.
/// </summary>
sealed class IlCallGraph
{
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Calls { get; }

    public IlCallGraph(string path)
    {
        using var pe = new PEReader(File.OpenRead(path));
        var md = pe.GetMetadataReader();
        var names = new TypeNames();
        var calls = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var h in md.MethodDefinitions)
        {
            var def = md.GetMethodDefinition(h);
            var targets = new List<string>();
            calls[MethodName(md, h, names)] = targets;
            if (def.RelativeVirtualAddress == 0) continue;
            var il = pe.GetMethodBody(def.RelativeVirtualAddress).GetILReader();
            while (il.RemainingBytes > 0)
            {
                int code = il.ReadByte();
                if (code == 0xFE) code = 0xFE00 | il.ReadByte();
                var op = (ILOpCode)code;
                if (op is ILOpCode.Call or ILOpCode.Callvirt or ILOpCode.Newobj or ILOpCode.Ldftn or ILOpCode.Ldvirtftn)
                {
                    if (Target(md, MetadataTokens.EntityHandle(il.ReadInt32()), names) is { } t) targets.Add(t);
                }
                else if (op == ILOpCode.Switch)
                {
                    int targetCount = il.ReadInt32(); // read first: 'il.Offset += 4 * il.ReadInt32()' would add to the offset before the read
                    il.Offset += 4 * targetCount;
                }
                else il.Offset += OperandSize(op);
            }
        }
        Calls = calls;
    }

    /// <summary>Every method that reaches one of <paramref name="roots"/> through its own calls (roots included).</summary>
    public HashSet<string> Reaching(IEnumerable<string> roots)
    {
        var reached = new HashSet<string>(roots);
        var callers = new Dictionary<string, List<string>>();
        foreach (var (m, targets) in Calls)
            foreach (var t in targets.Distinct())
                (callers.TryGetValue(t, out var l) ? l : callers[t] = []).Add(m);
        var queue = new Queue<string>(reached);
        while (queue.TryDequeue(out var m))
            foreach (var caller in callers.GetValueOrDefault(m) ?? [])
                if (reached.Add(caller)) queue.Enqueue(caller);
        return reached;
    }

    public static string TypeOf(string method) => method[..method.IndexOf("::", StringComparison.Ordinal)];
    public static string NameOf(string method) => method[(method.IndexOf("::", StringComparison.Ordinal) + 2)..method.IndexOf('(')];

    static string MethodName(MetadataReader md, MethodDefinitionHandle h, TypeNames names)
    {
        var def = md.GetMethodDefinition(h);
        var sig = def.DecodeSignature(names, null);
        return $"{names.GetTypeFromDefinition(md, def.GetDeclaringType(), 0)}::{md.GetString(def.Name)}({string.Join(",", sig.ParameterTypes)})";
    }

    static string? Target(MetadataReader md, EntityHandle token, TypeNames names)
    {
        switch (token.Kind)
        {
            case HandleKind.MethodDefinition: return MethodName(md, (MethodDefinitionHandle)token, names);
            case HandleKind.MethodSpecification: return Target(md, md.GetMethodSpecification((MethodSpecificationHandle)token).Method, names);
            case HandleKind.MemberReference:
                var r = md.GetMemberReference((MemberReferenceHandle)token);
                if (r.GetKind() != MemberReferenceKind.Method) return null;
                var sig = r.DecodeMethodSignature(names, null);
                var type = r.Parent.Kind switch
                {
                    HandleKind.TypeDefinition => names.GetTypeFromDefinition(md, (TypeDefinitionHandle)r.Parent, 0),
                    HandleKind.TypeReference => names.GetTypeFromReference(md, (TypeReferenceHandle)r.Parent, 0),
                    // A member of a generic instance (Module`2<Tensor, Tensor>): named by its generic definition.
                    HandleKind.TypeSpecification => TypeNames.Definition(md.GetTypeSpecification((TypeSpecificationHandle)r.Parent).DecodeSignature(names, null)),
                    _ => "?",
                };
                return $"{type}::{md.GetString(r.Name)}({string.Join(",", sig.ParameterTypes)})";
            default: return null;
        }
    }

    static int OperandSize(ILOpCode op) => op switch
    {
        ILOpCode.Ldarg_s or ILOpCode.Ldarga_s or ILOpCode.Starg_s or ILOpCode.Ldloc_s or ILOpCode.Ldloca_s or ILOpCode.Stloc_s
            or ILOpCode.Ldc_i4_s or ILOpCode.Br_s or ILOpCode.Brfalse_s or ILOpCode.Brtrue_s or ILOpCode.Beq_s or ILOpCode.Bge_s
            or ILOpCode.Bgt_s or ILOpCode.Ble_s or ILOpCode.Blt_s or ILOpCode.Bne_un_s or ILOpCode.Bge_un_s or ILOpCode.Bgt_un_s
            or ILOpCode.Ble_un_s or ILOpCode.Blt_un_s or ILOpCode.Leave_s or ILOpCode.Unaligned => 1,
        ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc => 2,
        ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8 => 8,
        ILOpCode.Ldc_i4 or ILOpCode.Ldc_r4 or ILOpCode.Br or ILOpCode.Brfalse or ILOpCode.Brtrue or ILOpCode.Beq or ILOpCode.Bge
            or ILOpCode.Bgt or ILOpCode.Ble or ILOpCode.Blt or ILOpCode.Bne_un or ILOpCode.Bge_un or ILOpCode.Bgt_un or ILOpCode.Ble_un
            or ILOpCode.Blt_un or ILOpCode.Leave or ILOpCode.Jmp or ILOpCode.Calli or ILOpCode.Cpobj or ILOpCode.Ldobj or ILOpCode.Ldstr
            or ILOpCode.Castclass or ILOpCode.Isinst or ILOpCode.Unbox or ILOpCode.Ldfld or ILOpCode.Ldflda or ILOpCode.Stfld
            or ILOpCode.Ldsfld or ILOpCode.Ldsflda or ILOpCode.Stsfld or ILOpCode.Stobj or ILOpCode.Box or ILOpCode.Newarr
            or ILOpCode.Ldelema or ILOpCode.Ldelem or ILOpCode.Stelem or ILOpCode.Unbox_any or ILOpCode.Refanyval or ILOpCode.Mkrefany
            or ILOpCode.Ldtoken or ILOpCode.Initobj or ILOpCode.Constrained or ILOpCode.Sizeof => 4,
        _ => 0,
    };

    /// <summary>Type names as C# metadata spells them: <c>Namespace.Outer/Inner</c>, generic arguments in angle brackets.</summary>
    sealed class TypeNames : ISignatureTypeProvider<string, object?>
    {
        public static string Definition(string instance) => instance.Contains('<') ? instance[..instance.IndexOf('<')] : instance;
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";
        public string GetByReferenceType(string elementType) => elementType + "&";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(",", typeArguments)}>";
        public string GetGenericMethodParameter(object? context, int index) => "!!" + index;
        public string GetGenericTypeParameter(object? context, int index) => "!" + index;
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            var t = reader.GetTypeDefinition(handle);
            var declaring = t.GetDeclaringType();
            return declaring.IsNil ? Qualified(reader.GetString(t.Namespace), reader.GetString(t.Name))
                : GetTypeFromDefinition(reader, declaring, rawTypeKind) + "/" + reader.GetString(t.Name);
        }

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            var t = reader.GetTypeReference(handle);
            return t.ResolutionScope.Kind == HandleKind.TypeReference
                ? GetTypeFromReference(reader, (TypeReferenceHandle)t.ResolutionScope, rawTypeKind) + "/" + reader.GetString(t.Name)
                : Qualified(reader.GetString(t.Namespace), reader.GetString(t.Name));
        }

        static string Qualified(string ns, string name) => ns.Length > 0 ? ns + "." + name : name;
    }
}
