// A kernel whose header does not compile (tests/test_check.py).
#include "check_broken.cuh"

__global__ void check_broken(float* y) { y[threadIdx.x] = check_broken_helper(y[threadIdx.x]); }
