// One kernel per mma.sync form: each lane loads its A, B, C registers from memory (lane-major), runs
// the instruction as inline PTX and stores its D registers, so that tests/test_emu_ptx_mma.py can
// check the fragment layouts and arithmetic against the PTX ISA's definition.
#define LOAD(X, src, n) \
    unsigned X[4] = {0, 0, 0, 0}; \
    for (int i = 0; i < n; ++i) X[i] = src[threadIdx.x * n + i];
#define STORE(X, dst, n) \
    for (int i = 0; i < n; ++i) dst[threadIdx.x * n + i] = X[i];
#define PROBE_BEGIN(name) \
    extern "C" __global__ void name(const unsigned* a, const unsigned* b, const unsigned* c, unsigned* d)

// D 4 regs, A 4, B 2, C 4
#define MMA_4424(name, OP)                                                                                   \
    PROBE_BEGIN(name) {                                                                                      \
        LOAD(A, a, 4) LOAD(B, b, 2) LOAD(C, c, 4) unsigned D[4];                                             \
        asm volatile(OP " {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"               \
                     : "=r"(D[0]), "=r"(D[1]), "=r"(D[2]), "=r"(D[3])                                        \
                     : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(C[0]), "r"(C[1]), \
                       "r"(C[2]), "r"(C[3]));                                                                \
        STORE(D, d, 4)                                                                                       \
    }
// D 2, A 4, B 2, C 2 (f16 accumulators)
#define MMA_2422(name, OP)                                                                                         \
    PROBE_BEGIN(name) {                                                                                            \
        LOAD(A, a, 4) LOAD(B, b, 2) LOAD(C, c, 2) unsigned D[2];                                                   \
        asm volatile(OP " {%0, %1}, {%2, %3, %4, %5}, {%6, %7}, {%8, %9};"                                         \
                     : "=r"(D[0]), "=r"(D[1])                                                                      \
                     : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(C[0]), "r"(C[1])); \
        STORE(D, d, 2)                                                                                             \
    }
// D 4, A 2, B 1, C 4
#define MMA_4214(name, OP)                                                                                          \
    PROBE_BEGIN(name) {                                                                                             \
        LOAD(A, a, 2) LOAD(B, b, 1) LOAD(C, c, 4) unsigned D[4];                                                    \
        asm volatile(OP " {%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %8, %9, %10};"                                     \
                     : "=r"(D[0]), "=r"(D[1]), "=r"(D[2]), "=r"(D[3])                                               \
                     : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(C[0]), "r"(C[1]), "r"(C[2]), "r"(C[3]));                \
        STORE(D, d, 4)                                                                                              \
    }
// D 2, A 2, B 1, C 2
#define MMA_2212(name, OP)                                                                     \
    PROBE_BEGIN(name) {                                                                        \
        LOAD(A, a, 2) LOAD(B, b, 1) LOAD(C, c, 2) unsigned D[2];                               \
        asm volatile(OP " {%0, %1}, {%2, %3}, {%4}, {%5, %6};"                                 \
                     : "=r"(D[0]), "=r"(D[1])                                                  \
                     : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(C[0]), "r"(C[1]));                 \
        STORE(D, d, 2)                                                                         \
    }

MMA_4424(m16n8k16_f32_f16, "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32")
MMA_4424(m16n8k16_f32_bf16, "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32")
MMA_2422(m16n8k16_f16_f16, "mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16")
MMA_4214(m16n8k8_f32_f16, "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32")
MMA_4214(m16n8k8_f32_bf16, "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32")
MMA_2212(m16n8k8_f16_f16, "mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16")
MMA_4424(m16n8k8_f32_tf32, "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32")
MMA_4214(m16n8k4_f32_tf32, "mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32")
MMA_4424(m16n8k32_s32_s8, "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32")
MMA_4424(m16n8k32_s32_u8, "mma.sync.aligned.m16n8k32.row.col.s32.u8.u8.s32")
MMA_4424(m16n8k32_s32_s8_sat, "mma.sync.aligned.m16n8k32.row.col.satfinite.s32.s8.s8.s32")
MMA_4214(m16n8k16_s32_s8, "mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32")
MMA_4424(m16n8k32_f32_e4m3, "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32")
MMA_4424(m16n8k32_f32_e5m2, "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32")
