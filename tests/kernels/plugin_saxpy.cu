// out = a*x + y, the kernel of the plugin family in the tests (tests/plugin_saxpy_family.py).
// fault != 0 makes it write through a null pointer, as a buggy kernel does: the address is computed
// at run time, so no compiler can drop or rewrite the store.
extern "C" __global__ void saxpy(const float* x, const float* y, float* out, float a, int n, int fault) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float* target = reinterpret_cast<float*>(reinterpret_cast<unsigned long long>(out) * (fault == 0));
    target[i] = a * x[i] + y[i];
}
