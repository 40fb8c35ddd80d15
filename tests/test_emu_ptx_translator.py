"""The inline-PTX translator (suite/emulator/ptx): which asm statements it takes, how operands bind,
and the compile-time errors for PTX the emulation does not have, naming the user's file and line."""

import textwrap

import numpy as np
import pytest

from suite.backends import get_backend
from suite.emulator.ptx import cpp_asm, hook
from suite.emulator.ptx.translate import TranslationError, translate
from suite.errors import KernelCompileError


def _pre(body: str, file: str = "k.cu") -> str:
    """A stand-in for g++ -E output: a line marker, then the code."""
    return f'# 1 "{file}"\n' + textwrap.dedent(body)


def test_statements_are_found_with_their_operands_strings_and_lines():
    text = _pre('''\
        int f(int x) {
          int y;
          asm volatile("add.s32 %0, %1, "
                       "%[two];" : "=r"(y) : "r"(x), [two] "n"(2) : "memory");
          return y;
        }
        ''')
    (st,) = cpp_asm.find_statements(text)
    assert (st.file, st.line, st.template, st.sections) == ("k.cu", 3, "add.s32 %0, %1, %[two];", 3)
    assert [(o.name, o.constraint, o.expr) for o in st.outputs + st.inputs] == [(None, "=r", "y"), (None, "r", "x"),
                                                                                ("two", "n", "2")]
    assert st.clobbers == ["memory"]


def test_asm_labels_empty_templates_and_system_headers_are_left_to_gcc():
    text = '# 1 "/usr/include/stdio.h" 1 3 4\nextern int f(void) __asm__("" "__isoc99_f");\n' \
           'void g(void) { asm volatile("mov.u32 %0, 1;" : "=r"(x)); }\n' \
           '# 9 "k.cu" 2\nvoid h(unsigned v) { asm volatile("" : "+r"(v)); __asm__("f"); }\n'
    assert translate(text) == text


def test_translation_keeps_the_line_count():
    text = _pre('''\
        void f(unsigned* p) {
          asm volatile("{\\n .reg .b32 t;\\n mov.b32 t, %1;\\n"
                       " mov.b32 %0, t;\\n}"
                       : "=r"(p[0]) : "r"(p[1]));
        }
        int after;
        ''')
    out = translate(text)
    assert out.count("\n") == text.count("\n") and out.splitlines()[-1] == "int after;"
    assert "__suite_ptx_" in out


@pytest.mark.parametrize("ptx, message", [
    ("frobnicate.b32 %0, %1;", "mnemonic 'frobnicate' is not emulated"),
    ("mma.sync.aligned.m8n8k4.row.col.f32.f16.f16.f32 {%0}, {%1}, {%1}, {%0};", "this form of 'mma' is not emulated"),
    ("ldmatrix.sync.aligned.m8n8.x3.shared.b16 {%0}, [%1];", "this form of 'ldmatrix' is not emulated"),
    ("bra LOOP;", "mnemonic 'bra' is not emulated"),
    ("LOOP: add.s32 %0, %0, %1;", "branches and labels in inline PTX are not emulated"),
    ("add.s32 %0, %1, %5;", "'%5' names no operand"),
    ("add.s32 %0, %1, r9;", "'r9' is not a declared register"),
    ("cp.async.cg.shared.global [%0], [%1], 8;", "cp.async.cg copies 16 bytes"),
])
def test_unsupported_forms_fail_naming_the_instruction_and_the_line(ptx, message):
    text = _pre(f'void f(unsigned x, unsigned& y) {{\n  asm volatile("{ptx}" : "+r"(y) : "r"(x));\n}}\n', "user.cu")
    with pytest.raises(TranslationError) as caught:
        translate(text)
    assert str(caught.value).startswith("user.cu:2: error: ") and message in str(caught.value)


def test_the_host_build_fails_at_compile_time_naming_the_file_and_line(tmp_path):
    source = tmp_path / "bad.cu"
    source.write_text('extern "C" __global__ void k(unsigned* p) {\n'
                      '    asm volatile("tex.1d.v4.s32.s32 {%0, %0, %0, %0}, [tex, {%0}];" : "+r"(p[0]));\n}\n')
    with pytest.raises(KernelCompileError, match=r"bad\.cu:2: error: PTX instruction 'tex\.1d\.v4\.s32\.s32'"):
        get_backend("host").load_module(source, ["k"])


def test_only_sources_with_asm_are_translated(tmp_path):
    (tmp_path / "plain.cuh").write_text("#ifdef SUITE_HOST\nint a;\n#else\nasm(\"trap;\");\n#endif\n")
    (tmp_path / "gpu.cuh").write_text('__device__ void trap() { asm("trap;"); }\n')
    plain = tmp_path / "plain.cu"
    plain.write_text('#include "plain.cuh"\n// asm in a comment\n')
    gpu = tmp_path / "gpu.cu"
    gpu.write_text('#include "gpu.cuh"\n')
    assert not hook.uses_asm(plain, []) and hook.uses_asm(gpu, [])


def test_operands_bind_by_constraint_with_named_and_literal_operands(tmp_path):
    source = tmp_path / "bind.cu"
    source.write_text(textwrap.dedent('''\
        #define SHIFT 3
        extern "C" __global__ void k(const unsigned long long* in, unsigned* out32, unsigned short* out16, double* outd) {
            const int t = threadIdx.x;
            unsigned lo, hi;
            asm("mov.b64 {%0, %1}, %2;" : "=r"(lo), "=r"(hi) : "l"(in[t]));
            unsigned v = lo;
            asm("shl.b32 %[v], %[v], %[s];" : [v] "+r"(v) : [s] "n"(SHIFT));
            out32[2 * t] = v;
            out32[2 * t + 1] = hi;
            unsigned short h;
            asm("{ .reg .b16 a, b; mov.b32 {a, b}, %1; mov.b16 %0, b; }" : "=h"(h) : "r"(lo));
            out16[t] = h;
            double d;
            asm("add.rn.f64 %0, %1, 0d3FF0000000000000;" : "=d"(d) : "d"(double(t)));
            outd[t] = d;
        }
        '''))
    fn = get_backend("host").load_module(source, ["k"]).get_function("k")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**63, 32, dtype=np.uint64)
    o32, o16, od = np.zeros(64, np.uint32), np.zeros(32, np.uint16), np.zeros(32)
    fn((1,), (32,), (x, o32, o16, od))
    lo, hi = (x & 0xFFFFFFFF).astype(np.uint32), (x >> 32).astype(np.uint32)
    np.testing.assert_array_equal(o32[0::2], (lo << 3).astype(np.uint32))
    np.testing.assert_array_equal(o32[1::2], hi)
    np.testing.assert_array_equal(o16, (lo >> 16).astype(np.uint16))
    np.testing.assert_array_equal(od, np.arange(32) + 1.0)
