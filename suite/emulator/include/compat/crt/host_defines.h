// Stand-in for NVIDIA's crt/host_defines.h, used only when the NVIDIA include directory lacks it:
// the pip wheel nvidia-cuda-runtime ships vector_types.h and cuda_fp16.h but not crt/. It defines
// the compiler-specific spellings that those headers need, with their g++ meaning. cuda_host.h
// has already defined the CUDA qualifiers (__device__, __shared__, ...) before this is reached.
#pragma once

#define __no_return__ __attribute__((noreturn))
#define __align__(n) __attribute__((aligned(n)))
#define __builtin_align__(a) __align__(a)
#define __thread__ __thread
#define __import__
#define __export__
#define __cdecl
#define __annotate__(a)
#define __location__(a)
#define __specialization_static
#define __device_builtin__
#define __device_builtin_texture_type__
#define __device_builtin_surface_type__
#define __cudart_builtin__
#define __nv_pure__
#define __grid_constant__
#define __cluster_dims__(...)
#define __block_size__(...)
#define __maxnreg__(n)
#define __local_maxnreg__(n)
#define CUDARTAPI
#define CUDARTAPI_CDECL
