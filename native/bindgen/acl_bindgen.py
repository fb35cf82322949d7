#!/usr/bin/env python3
"""
mla4j bindgen: emits jextract-style Panama FFM bindings from a small C header subset.

jextract is in no package registry reachable here, so this generator stands in for it on the simple
C that native/include holds: `static const int` and integer `#define` constants, enums, typedefs
(scalars, pointers, opaque structs), structs with scalar/pointer fields, and function prototypes.
It writes, like jextract: one header class per header (layouts C_INT/C_LONG/C_POINTER..., a
FunctionDescriptor + lazily-bound downcall MethodHandle per function with $descriptor/$handle/
$address accessors and a typed wrapper, constants as static methods, typedef layouts) and one class
per struct (layout, field offsets and accessors, allocate).

Where the symbols come from is the one departure: jextract hard-codes a library; here the header
class asks a hand-written lookup holder (--lookup, e.g. io.mla4j.ascend.acl.AclLibrary.lookup()),
because the Ascend backend picks the real ACL library or the emulator at run time.

Regenerate every binding (from native/):  make bindings  (the ACL, emulator and tiling classes with no --header,
then the cuBLAS class with --header include/cublas_subset.h); `make check-bindings` (run by `make test`)
regenerates them into target/ and fails on any difference with the committed files.
Anything it cannot parse is an error naming the line, never silently skipped.
"""
import argparse
import os
import re
import sys

# C scalar -> (layout constant, Java carrier, size, alignment)
SCALARS = {
    "void": (None, "void", 0, 1),
    "char": ("C_CHAR", "byte", 1, 1), "int8_t": ("C_CHAR", "byte", 1, 1), "uint8_t": ("C_CHAR", "byte", 1, 1),
    "short": ("C_SHORT", "short", 2, 2), "int16_t": ("C_SHORT", "short", 2, 2), "uint16_t": ("C_SHORT", "short", 2, 2),
    "int": ("C_INT", "int", 4, 4), "unsigned": ("C_INT", "int", 4, 4), "int32_t": ("C_INT", "int", 4, 4),
    "uint32_t": ("C_INT", "int", 4, 4),
    "long": ("C_LONG", "long", 8, 8), "int64_t": ("C_LONG", "long", 8, 8), "uint64_t": ("C_LONG", "long", 8, 8),
    "size_t": ("C_LONG", "long", 8, 8), "uintptr_t": ("C_LONG", "long", 8, 8),
    "float": ("C_FLOAT", "float", 4, 4), "double": ("C_DOUBLE", "double", 8, 8),
}
POINTER = ("C_POINTER", "MemorySegment", 8, 8)
LAYOUT_TYPES = {"C_CHAR": "OfByte", "C_SHORT": "OfShort", "C_INT": "OfInt", "C_LONG": "OfLong",
                "C_FLOAT": "OfFloat", "C_DOUBLE": "OfDouble", "C_POINTER": "AddressLayout"}
JAVA_KEYWORDS = {"abstract", "assert", "boolean", "break", "byte", "case", "catch", "char", "class", "const",
                 "continue", "default", "do", "double", "else", "enum", "extends", "final", "finally", "float",
                 "for", "goto", "if", "implements", "import", "instanceof", "int", "interface", "long", "native",
                 "new", "package", "private", "protected", "public", "return", "short", "static", "strictfp",
                 "super", "switch", "synchronized", "this", "throw", "throws", "transient", "try", "void",
                 "volatile", "while"}


class ParseError(Exception):
    pass


class Header:
    def __init__(self):
        self.constants = []   # (name, java type, value)
        self.typedefs = {}    # name -> ("scalar", c name) | ("pointer",) | ("opaque",) | ("struct", name) | ("enum",)
        self.typedef_order = []
        self.structs = {}     # name -> [(field name, c type string)]
        self.struct_order = []
        self.functions = []   # (name, return type, [(param name, type)])


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def read_header(path, hdr, seen):
    """Parses `path` and the local headers it includes (#include "x"), each once."""
    path = os.path.normpath(path)
    if path in seen:
        return
    seen.add(path)
    text = strip_comments(open(path, encoding="utf-8").read())
    body = []
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("#"):
            inc = re.match(r'#\s*include\s+"([^"]+)"', s)
            define = re.match(r"#\s*define\s+([A-Za-z_]\w*)\s+(\(?-?(?:0x[0-9A-Fa-f]+|\d+)[uUlL]*\)?)\s*$", s)
            if inc:
                read_header(os.path.join(os.path.dirname(path), inc.group(1)), hdr, seen)
            elif define:
                hdr.constants.append((define.group(1), "int" if abs(int_value(define.group(2))) < 2**31 else "long",
                                      int_value(define.group(2))))
            continue
        body.append(line)
    code = "\n".join(body)
    code = re.sub(r'extern\s+"C"\s*\{', "", code)
    for stmt in split_statements(code):
        parse_statement(stmt, hdr, path)


def int_value(s):
    s = s.strip("() ").rstrip("uUlL")
    return int(s, 16) if s.lower().startswith(("0x", "-0x")) else int(s)


def split_statements(code):
    out, cur, depth = [], [], 0
    for ch in code:
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                continue  # the closing brace of an extern "C" block
            depth -= 1
        if ch == ";" and depth == 0:
            stmt = " ".join("".join(cur).split())
            if stmt:
                out.append(stmt)
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        raise ParseError("unterminated declaration: " + " ".join("".join(cur).split())[:80])
    return out


def clean_decl(s):
    s = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)\s*", "", s)
    s = s.replace("ACL_FUNC_VISIBILITY", "")
    return " ".join(s.split())


def parse_statement(stmt, hdr, path):
    s = clean_decl(stmt)
    m = re.fullmatch(r"static const (int|int32_t|uint32_t|int64_t|uint64_t) (\w+) = (-?(?:0x[0-9A-Fa-f]+|\d+))[uUlL]*", s)
    if m:
        hdr.constants.append((m.group(2), "long" if "64" in m.group(1) else "int", int_value(m.group(3))))
        return
    m = re.fullmatch(r"typedef enum (\w+ )?\{(.*)\} (\w+)", s)
    if m:
        nxt = 0
        for item in [x.strip() for x in m.group(2).split(",") if x.strip()]:
            em = re.fullmatch(r"(\w+)(?: = (-?(?:0x[0-9A-Fa-f]+|\d+)))?", item)
            if not em:
                raise ParseError(f"{path}: enumerator '{item}'")
            nxt = int_value(em.group(2)) if em.group(2) else nxt
            hdr.constants.append((em.group(1), "int", nxt))
            nxt += 1
        add_typedef(hdr, m.group(3), ("scalar", "int"))
        return
    m = re.fullmatch(r"typedef struct (\w+ )?\{(.*)\} (\w+)", s)
    if m:
        fields = []
        for f in [x.strip() for x in m.group(2).split(";") if x.strip()]:
            # `int32_t a, b, *c` declares several fields of one base type
            fm = re.fullmatch(r"((?:const )?\w+)\s*(.+)", f)
            if not fm:
                raise ParseError(f"{path}: struct field '{f}'")
            for decl in [d.strip() for d in fm.group(2).split(",")]:
                dm = re.fullmatch(r"(\**)\s*(\w+)", decl)
                if not dm:
                    raise ParseError(f"{path}: struct field '{decl}' in '{f}'")
                fields.append((dm.group(2), (fm.group(1) + " " + dm.group(1)).strip()))
        name = m.group(3)
        hdr.structs[name] = fields
        hdr.struct_order.append(name)
        add_typedef(hdr, name, ("struct", name))
        return
    m = re.fullmatch(r"typedef struct (\w+) (\w+)", s)
    if m:
        add_typedef(hdr, m.group(2), ("opaque",))
        return
    m = re.fullmatch(r"typedef (.+?)(\w+)", s)
    if m:
        base = m.group(1).strip()
        if "*" in base:
            add_typedef(hdr, m.group(2), ("pointer",))
        elif base in SCALARS:
            add_typedef(hdr, m.group(2), ("scalar", base))
        elif base in hdr.typedefs:
            add_typedef(hdr, m.group(2), hdr.typedefs[base])
        else:
            raise ParseError(f"{path}: typedef of unknown type '{base}'")
        return
    m = re.fullmatch(r"(.+?)(\w+)\s*\((.*)\)", s)
    if m:
        ret = m.group(1).strip()
        params = []
        plist = m.group(3).strip()
        if plist and plist != "void":
            for i, p in enumerate(x.strip() for x in plist.split(",")):
                pm = re.fullmatch(r"(.+?)(\w+)", p)
                if not pm:
                    raise ParseError(f"{path}: parameter '{p}' of {m.group(2)} needs a name")
                params.append((pm.group(2), pm.group(1).strip()))
        hdr.functions.append((m.group(2), ret, params))
        return
    raise ParseError(f"{path}: cannot parse declaration: {s[:100]}")


def add_typedef(hdr, name, kind):
    if name not in hdr.typedefs:
        hdr.typedef_order.append(name)
    hdr.typedefs[name] = kind


def resolve(hdr, ctype):
    """C type string -> (layout, carrier, size, align)."""
    t = ctype.replace("const ", "").replace("struct ", "").replace("enum ", "").strip()
    if "*" in t:
        return POINTER
    if t in SCALARS:
        return SCALARS[t]
    kind = hdr.typedefs.get(t)
    if kind is None:
        raise ParseError(f"unknown type '{ctype}'")
    if kind[0] == "pointer":
        return POINTER
    if kind[0] == "scalar":
        return SCALARS[kind[1]]
    raise ParseError(f"type '{ctype}' is passed by value; only scalars and pointers are supported")


def jname(n):
    return n + "_" if n in JAVA_KEYWORDS else n


def emit_header_class(hdr, pkg, cls, lookup, source):
    L = []
    w = L.append
    w(f"// Generated by native/bindgen/acl_bindgen.py from {source}. Do not edit: run `make bindings` in native/.")
    w(f"package {pkg};")
    w("")
    w("import java.lang.foreign.*;")
    w("import java.lang.invoke.MethodHandle;")
    w("import java.util.Arrays;")
    w("import java.util.stream.Collectors;")
    w("")
    w("import static java.lang.foreign.ValueLayout.*;")
    w("")
    w(f"/** Bindings for {source} (jextract style); symbols are resolved through {lookup}. */")
    w('@SuppressWarnings("unused")')
    w(f"public class {cls} {{")
    w("")
    w(f"    {cls}() {{")
    w("        // Should not be called directly")
    w("    }")
    w("")
    w('    static final boolean TRACE_DOWNCALLS = Boolean.getBoolean("jextract.trace.downcalls");')
    w("")
    w("    static void traceDowncall(String name, Object... args) {")
    w("        String traceArgs = Arrays.stream(args).map(Object::toString).collect(Collectors.joining(\", \"));")
    w('        System.out.printf("%s(%s)\\n", name, traceArgs);')
    w("    }")
    w("")
    w("    static MemorySegment findOrThrow(String symbol) {")
    w(f"        return {lookup}.find(symbol)")
    w('            .orElseThrow(() -> new UnsatisfiedLinkError("unresolved symbol: " + symbol));')
    w("    }")
    w("")
    w("    public static final ValueLayout.OfByte C_CHAR = ValueLayout.JAVA_BYTE;")
    w("    public static final ValueLayout.OfShort C_SHORT = ValueLayout.JAVA_SHORT;")
    w("    public static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;")
    w("    public static final ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;")
    w("    public static final ValueLayout.OfFloat C_FLOAT = ValueLayout.JAVA_FLOAT;")
    w("    public static final ValueLayout.OfDouble C_DOUBLE = ValueLayout.JAVA_DOUBLE;")
    w("    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS")
    w("            .withTargetLayout(MemoryLayout.sequenceLayout(java.lang.Long.MAX_VALUE, JAVA_BYTE));")
    for name in hdr.typedef_order:
        kind = hdr.typedefs[name]
        if kind[0] in ("scalar", "pointer"):
            layout, _, _, _ = POINTER if kind[0] == "pointer" else SCALARS[kind[1]]
            if layout:
                w(f"    /** {{@snippet lang=c : typedef ... {name} }} */")
                w(f"    public static final {LAYOUT_TYPES[layout]} {name} = {cls}.{layout};")
    for name, jt, value in hdr.constants:
        lit = f"{value}L" if jt == "long" else str(value)
        w("")
        w(f"    private static final {jt} {name} = {lit};")
        w(f"    /** {{@snippet lang=c : {name} = {value} }} */")
        w(f"    public static {jt} {name}() {{")
        w(f"        return {name};")
        w("    }")
    for fname, ret, params in hdr.functions:
        rlayout, rjava, _, _ = resolve(hdr, ret)
        players = [resolve(hdr, t) for _, t in params]
        desc_args = ", ".join(f"{cls}.{p[0]}" for p in players)
        if rlayout:
            desc = f"FunctionDescriptor.of({cls}.{rlayout}{', ' if desc_args else ''}{desc_args})"
        else:
            desc = f"FunctionDescriptor.ofVoid({desc_args})"
        sig_c = f"{ret} {fname}({', '.join(t + ' ' + n for n, t in params) or 'void'})"
        w("")
        w(f"    private static class {fname} {{")
        w(f"        public static final FunctionDescriptor DESC = {desc};")
        w(f"        public static final MemorySegment ADDR = {cls}.findOrThrow(\"{fname}\");")
        w("        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);")
        w("    }")
        w("")
        w(f"    /** Function descriptor for: {{@snippet lang=c : {sig_c} }} */")
        w(f"    public static FunctionDescriptor {fname}$descriptor() {{ return {fname}.DESC; }}")
        w(f"    /** Downcall method handle for: {{@snippet lang=c : {sig_c} }} */")
        w(f"    public static MethodHandle {fname}$handle() {{ return {fname}.HANDLE; }}")
        w(f"    /** Address for: {{@snippet lang=c : {sig_c} }} */")
        w(f"    public static MemorySegment {fname}$address() {{ return {fname}.ADDR; }}")
        w("")
        w(f"    /** {{@snippet lang=c : {sig_c} }} */")
        jparams = ", ".join(f"{p[1]} {jname(n)}" for p, (n, _) in zip(players, params))
        argnames = ", ".join(jname(n) for n, _ in params)
        w(f"    public static {rjava} {fname}({jparams}) {{")
        w(f"        var mh$ = {fname}.HANDLE;")
        w("        try {")
        w("            if (TRACE_DOWNCALLS) {")
        w(f"                traceDowncall(\"{fname}\"{', ' if argnames else ''}{argnames});")
        w("            }")
        if rlayout:
            w(f"            return ({rjava}) mh$.invokeExact({argnames});")
        else:
            w(f"            mh$.invokeExact({argnames});")
        w("        } catch (Error | RuntimeException ex) {")
        w("            throw ex;")
        w("        } catch (Throwable ex$) {")
        w('            throw new AssertionError("should not reach here", ex$);')
        w("        }")
        w("    }")
    w("}")
    return "\n".join(L) + "\n"


def emit_struct_class(hdr, pkg, hcls, name, source):
    fields = hdr.structs[name]
    L = []
    w = L.append
    w(f"// Generated by native/bindgen/acl_bindgen.py from {source}. Do not edit: run `make bindings` in native/.")
    w(f"package {pkg};")
    w("")
    w("import java.lang.foreign.*;")
    w("import java.util.function.Consumer;")
    w("")
    w("import static java.lang.foreign.MemoryLayout.PathElement.groupElement;")
    w("import static java.lang.foreign.ValueLayout.*;")
    w("")
    body = "; ".join(f"{t} {n}" for n, t in fields)
    w(f"/** {{@snippet lang=c : typedef struct {name} {{ {body}; }} {name} }} */")
    w(f"public class {name} {{")
    w("")
    w(f"    {name}() {{")
    w("        // Should not be called directly")
    w("    }")
    w("")
    # C layout rules: each field at its alignment, the struct padded to its largest alignment
    elems, off, maxal, offsets = [], 0, 1, {}
    for n, t in fields:
        layout, _, size, al = resolve(hdr, t)
        if off % al:
            pad = al - off % al
            elems.append(f"MemoryLayout.paddingLayout({pad})")
            off += pad
        offsets[n] = off
        elems.append(f"{hcls}.{layout}.withName(\"{n}\")")
        off += size
        maxal = max(maxal, al)
    if off % maxal:
        elems.append(f"MemoryLayout.paddingLayout({maxal - off % maxal})")
    w("    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(")
    w("        " + ",\n        ".join(elems))
    w(f"    ).withName(\"{name}\");")
    w("")
    w("    /** The layout of this struct */")
    w("    public static final GroupLayout layout() {")
    w("        return $LAYOUT;")
    w("    }")
    for n, t in fields:
        layout, jt, _, _ = resolve(hdr, t)
        lt = LAYOUT_TYPES[layout]
        w("")
        w(f"    private static final {lt} {n}$LAYOUT = ({lt})$LAYOUT.select(groupElement(\"{n}\"));")
        w(f"    /** Layout for field: {{@snippet lang=c : {t} {n} }} */")
        w(f"    public static final {lt} {n}$layout() {{ return {n}$LAYOUT; }}")
        w(f"    private static final long {n}$OFFSET = {offsets[n]};")
        w(f"    /** Offset for field: {{@snippet lang=c : {t} {n} }} */")
        w(f"    public static final long {n}$offset() {{ return {n}$OFFSET; }}")
        w(f"    /** Getter for field: {{@snippet lang=c : {t} {n} }} */")
        w(f"    public static {jt} {jname(n)}(MemorySegment struct) {{ return struct.get({n}$LAYOUT, {n}$OFFSET); }}")
        w(f"    /** Setter for field: {{@snippet lang=c : {t} {n} }} */")
        w(f"    public static void {jname(n)}(MemorySegment struct, {jt} fieldValue) {{ struct.set({n}$LAYOUT, {n}$OFFSET, fieldValue); }}")
    w("")
    w("    /** Obtains a slice of {@code arrayParam} which selects the array element at {@code index}. */")
    w("    public static MemorySegment asSlice(MemorySegment array, long index) {")
    w("        return array.asSlice(layout().byteSize() * index);")
    w("    }")
    w("")
    w("    /** The size (in bytes) of this struct */")
    w("    public static long sizeof() { return layout().byteSize(); }")
    w("")
    w("    /** Allocate a segment of size {@code layout().byteSize()} using {@code allocator} */")
    w("    public static MemorySegment allocate(SegmentAllocator allocator) {")
    w("        return allocator.allocate(layout());")
    w("    }")
    w("")
    w("    /** Allocate an array of size {@code elementCount} using {@code allocator}. */")
    w("    public static MemorySegment allocateArray(long elementCount, SegmentAllocator allocator) {")
    w("        return allocator.allocate(MemoryLayout.sequenceLayout(elementCount, layout()));")
    w("    }")
    w("")
    w("    /** Reinterprets {@code addr} using target {@code arena} and {@code cleanupAction} (if any). */")
    w("    public static MemorySegment reinterpret(MemorySegment addr, Arena arena, Consumer<MemorySegment> cleanup) {")
    w("        return reinterpret(addr, 1, arena, cleanup);")
    w("    }")
    w("")
    w("    /** Reinterprets {@code addr} as an array of {@code elementCount} structs. */")
    w("    public static MemorySegment reinterpret(MemorySegment addr, long elementCount, Arena arena, Consumer<MemorySegment> cleanup) {")
    w("        return addr.reinterpret(layout().byteSize() * elementCount, arena, cleanup);")
    w("    }")
    w("}")
    return "\n".join(L) + "\n"


def generate(header, pkg, cls, lookup, out, source):
    hdr = Header()
    read_header(header, hdr, set())
    pdir = os.path.join(out, *pkg.split("."))
    os.makedirs(pdir, exist_ok=True)
    files = {f"{cls}.java": emit_header_class(hdr, pkg, cls, lookup, source)}
    for s in hdr.struct_order:
        files[f"{s}.java"] = emit_struct_class(hdr, pkg, cls, s, source)
    for fn, text in files.items():
        with open(os.path.join(pdir, fn), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"bindgen: {source} -> {pkg}.{cls}: {len(hdr.functions)} functions, {len(hdr.constants)} constants, "
          f"{len(hdr.struct_order)} structs")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    inc = os.path.join(here, "..", "include")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="Java source root to write into")
    ap.add_argument("--header", help="generate for one header only (with --class, --package, --lookup)")
    ap.add_argument("--class", dest="cls")
    ap.add_argument("--package", default="io.mla4j.ascend.acl")
    ap.add_argument("--lookup", default="AclLibrary.lookup()")
    a = ap.parse_args()
    try:
        if a.header:
            root = os.path.join(here, "..", "..")
            generate(a.header, a.package, a.cls or re.sub(r"\W", "_", os.path.basename(a.header)), a.lookup, a.out,
                     os.path.relpath(os.path.abspath(a.header), os.path.abspath(root)).replace(os.sep, "/"))
        else:
            # the committed ACL subset and the emulator's extra entry points
            generate(os.path.join(inc, "acl", "acl.h"), a.package, "acl_h", "AclLibrary.lookup()", a.out,
                     "native/include/acl/acl.h")
            generate(os.path.join(inc, "mla4j_acl_emu.h"), a.package, "mla4j_acl_emu_h", "AclLibrary.lookup()", a.out,
                     "native/include/mla4j_acl_emu.h")
            # the kernels-ascend host tiling library (engineer K's header; part of the kernel ABI)
            tiling = os.path.join(here, "..", "..", "kernels-ascend", "include", "mla4j_ascend_tiling.h")
            generate(tiling, "io.mla4j.ascend.tiling", "mla4j_ascend_tiling_h", "TilingLibrary.lookup()", a.out,
                     "kernels-ascend/include/mla4j_ascend_tiling.h")
    except ParseError as e:
        sys.exit(f"bindgen: {e}")


if __name__ == "__main__":
    main()
