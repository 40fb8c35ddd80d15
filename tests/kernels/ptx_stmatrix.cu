// stmatrix (sm_90) and movmatrix of inline PTX, for tests/test_emu_ptx_warp_memory.py.
// A warp's 8x8 fragments stored through stmatrix (.trans), and transposed
// in registers by movmatrix.
extern "C" __global__ void store_matrices(const unsigned* regs, unsigned short* out, unsigned* moved) {
    __shared__ __align__(16) unsigned short m[2][4][8][8];
    const int l = threadIdx.x;
    unsigned r[4];
    for (int j = 0; j < 4; ++j) r[j] = regs[l * 4 + j];
    const unsigned row = l % 8, j = l / 8;
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(
                     static_cast<unsigned>(__cvta_generic_to_shared(&m[0][j][row][0]))),
                 "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};" ::"r"(
                     static_cast<unsigned>(__cvta_generic_to_shared(&m[1][j][row][0]))),
                 "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]) : "memory");
    __syncwarp();
    for (int i = l; i < 2 * 4 * 64; i += 32) out[i] = (&m[0][0][0][0])[i];
    asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(moved[l]) : "r"(r[0]));
}
