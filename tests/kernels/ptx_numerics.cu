// Arithmetic, conversion and bit-manipulation forms of inline PTX, one kernel each over arrays, for
// tests/test_emu_ptx_numerics.py.
#define F32_UNARY(name, OP)                                                          \
    extern "C" __global__ void name(const float* a, float* d) {                      \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                         \
        asm(OP " %0, %1;" : "=f"(d[i]) : "f"(a[i]));                                 \
    }
#define F32_BINARY(name, OP)                                                            \
    extern "C" __global__ void name(const float* a, const float* b, float* d) {         \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                            \
        asm(OP " %0, %1, %2;" : "=f"(d[i]) : "f"(a[i]), "f"(b[i]));                     \
    }
#define F32_TERNARY(name, OP)                                                                          \
    extern "C" __global__ void name(const float* a, const float* b, const float* c, float* d) {        \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                           \
        asm(OP " %0, %1, %2, %3;" : "=f"(d[i]) : "f"(a[i]), "f"(b[i]), "f"(c[i]));                     \
    }
#define B32_UNARY(name, OP)                                                                \
    extern "C" __global__ void name(const unsigned* a, unsigned* d) {                      \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                               \
        asm(OP " %0, %1;" : "=r"(d[i]) : "r"(a[i]));                                       \
    }
#define B32_BINARY(name, OP)                                                                     \
    extern "C" __global__ void name(const unsigned* a, const unsigned* b, unsigned* d) {         \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                     \
        asm(OP " %0, %1, %2;" : "=r"(d[i]) : "r"(a[i]), "r"(b[i]));                              \
    }
#define B32_TERNARY(name, OP)                                                                                \
    extern "C" __global__ void name(const unsigned* a, const unsigned* b, const unsigned* c, unsigned* d) {  \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                                 \
        asm(OP " %0, %1, %2, %3;" : "=r"(d[i]) : "r"(a[i]), "r"(b[i]), "r"(c[i]));                          \
    }

#define ROUNDINGS(M, name, op) M(name##_rn, op ".rn.f32") M(name##_rz, op ".rz.f32") M(name##_rm, op ".rm.f32") M(name##_rp, op ".rp.f32")
ROUNDINGS(F32_BINARY, add, "add")
ROUNDINGS(F32_BINARY, sub, "sub")
ROUNDINGS(F32_BINARY, mul, "mul")
ROUNDINGS(F32_BINARY, div, "div")
ROUNDINGS(F32_TERNARY, fma, "fma")
ROUNDINGS(F32_UNARY, sqrt, "sqrt")
ROUNDINGS(F32_UNARY, rcp, "rcp")
F32_UNARY(ex2_approx, "ex2.approx.ftz.f32")
F32_UNARY(lg2_approx, "lg2.approx.f32")
F32_UNARY(sin_approx, "sin.approx.f32")
F32_UNARY(cos_approx, "cos.approx.f32")
F32_UNARY(tanh_approx, "tanh.approx.f32")
F32_UNARY(rsqrt_approx, "rsqrt.approx.f32")
F32_UNARY(rcp_approx, "rcp.approx.ftz.f32")
F32_UNARY(sqrt_approx, "sqrt.approx.f32")
F32_BINARY(add_ftz_sat, "add.rn.ftz.sat.f32")
F32_BINARY(max_nan, "max.NaN.f32")
F32_BINARY(min_plain, "min.f32")

// f32 -> 16-bit floats with each rounding mode: the result in the low half of d.
#define TO16(M, name, dst) M(name##_rn, "cvt.rn." dst ".f32") M(name##_rz, "cvt.rz." dst ".f32") \
    M(name##_rm, "cvt.rm." dst ".f32") M(name##_rp, "cvt.rp." dst ".f32")
#define CVT_TO16(name, OP)                                                                   \
    extern "C" __global__ void name(const float* a, unsigned short* d) {                     \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                 \
        asm(OP " %0, %1;" : "=h"(d[i]) : "f"(a[i]));                                         \
    }
TO16(CVT_TO16, f16, "f16")
TO16(CVT_TO16, bf16, "bf16")
#define CVT_TO_INT(name, OP)                                                                 \
    extern "C" __global__ void name(const float* a, int* d) {                                \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                 \
        asm(OP " %0, %1;" : "=r"(d[i]) : "f"(a[i]));                                         \
    }
CVT_TO_INT(s32_rni, "cvt.rni.s32.f32")
CVT_TO_INT(s32_rzi, "cvt.rzi.s32.f32")
CVT_TO_INT(s32_rmi, "cvt.rmi.s32.f32")
CVT_TO_INT(s32_rpi, "cvt.rpi.s32.f32")
CVT_TO_INT(u8_sat_rni, "cvt.rni.sat.u8.f32")
// Packed results are bit registers (.b32), as ptxas requires.
#define F32_TO_B32(name, OP, ...)                                                           \
    extern "C" __global__ void name(const float* a, const float* b, unsigned* d) {          \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                \
        asm(OP : "=r"(d[i]) : "f"(a[i]), "f"(b[i]));                                        \
    }
F32_TO_B32(pack_f16x2, "cvt.rn.f16x2.f32 %0, %1, %2;")
F32_TO_B32(pack_bf16x2, "cvt.rn.bf16x2.f32 %0, %1, %2;")
F32_TO_B32(tf32_rna, "cvt.rna.tf32.f32 %0, %1;")

// fp8 pairs: two f32 -> e4m3x2 / e5m2x2 (a in the high byte), and back to f16x2.
#define FP8(name, fmt)                                                                                       \
    extern "C" __global__ void name(const float* a, const float* b, unsigned short* d, unsigned* back) {     \
        const int i = blockIdx.x * blockDim.x + threadIdx.x;                                                 \
        unsigned short p;                                                                                    \
        asm("cvt.rn.satfinite." fmt "x2.f32 %0, %1, %2;" : "=h"(p) : "f"(a[i]), "f"(b[i]));                  \
        d[i] = p;                                                                                            \
        asm("cvt.rn.f16x2." fmt "x2 %0, %1;" : "=r"(back[i]) : "h"(p));                                      \
    }
FP8(fp8_e4m3, "e4m3")
FP8(fp8_e5m2, "e5m2")

B32_TERNARY(prmt, "prmt.b32")
B32_TERNARY(shf_l_wrap, "shf.l.wrap.b32")
B32_TERNARY(shf_r_clamp, "shf.r.clamp.b32")
B32_TERNARY(bfe_u32, "bfe.u32")
B32_TERNARY(bfe_s32, "bfe.s32")
B32_BINARY(xor_b32, "xor.b32")
B32_UNARY(brev, "brev.b32")
B32_UNARY(clz, "clz.b32")
B32_UNARY(popc, "popc.b32")
extern "C" __global__ void lop3(const unsigned* a, const unsigned* b, const unsigned* c, unsigned* d) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    asm("lop3.b32 %0, %1, %2, %3, 0x96;" : "=r"(d[4 * i]) : "r"(a[i]), "r"(b[i]), "r"(c[i]));  // a ^ b ^ c
    asm("lop3.b32 %0, %1, %2, %3, 0xE8;" : "=r"(d[4 * i + 1]) : "r"(a[i]), "r"(b[i]), "r"(c[i]));  // majority
    asm("lop3.b32 %0, %1, %2, %3, 0xCA;" : "=r"(d[4 * i + 2]) : "r"(a[i]), "r"(b[i]), "r"(c[i]));  // a ? b : c
    asm("lop3.b32 %0, %1, %2, %3, 0x80;" : "=r"(d[4 * i + 3]) : "r"(a[i]), "r"(b[i]), "r"(c[i]));  // a & b & c
}
extern "C" __global__ void bfi(const unsigned* a, const unsigned* b, const unsigned* c, unsigned* d) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    asm("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(d[i]) : "r"(a[i]), "r"(b[i]), "r"(c[i] & 0xff), "r"(c[i] >> 8 & 0xff));
}
// setp/selp with a predicate combination, and f16x2 arithmetic.
extern "C" __global__ void setp_selp(const float* a, const float* b, unsigned* d) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    asm("{ .reg .pred p, q, r; setp.lt.f32 p|q, %1, %2; setp.gtu.and.f32 r, %1, 0f00000000, q;\n"
        " selp.b32 %0, 1, 0, p; @r add.u32 %0, %0, 2; }" : "=r"(d[i]) : "f"(a[i]), "f"(b[i]));
}
B32_TERNARY(fma_f16x2, "fma.rn.f16x2")
B32_TERNARY(fma_bf16x2, "fma.rn.bf16x2")
B32_BINARY(add_f16x2, "add.rn.f16x2")
B32_BINARY(max_f16x2, "max.f16x2")
