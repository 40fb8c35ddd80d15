// Dynamic shared memory (the launch's shared_mem bytes), on the GPU and under host emulation.
// Use inside the kernel body: SUITE_DYNAMIC_SMEM(float, tile); then tile[i] as usual.
//
// On the GPU the buffer is declared once, as bytes, and cast: declaring `extern __shared__ T
// name[]` in the kernel breaks as soon as one module instantiates it for two types T (nvcc
// rejects the second declaration of the same extern array with another type).
#pragma once

#ifdef SUITE_HOST
#define SUITE_DYNAMIC_SMEM(T, name) T* const name = reinterpret_cast<T*>(suite_host_dynamic_smem())
#else
extern __shared__ __align__(16) unsigned char suite_dynamic_smem_[];
#define SUITE_DYNAMIC_SMEM(T, name) T* const name = reinterpret_cast<T*>(suite_dynamic_smem_)
#endif
