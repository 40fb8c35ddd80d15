// Stands in for CCCL's cuda/std/__thread/threading_support_cuda.h (the "CUDA" thread API of
// libcu++, which cuda_host.h selects with _CCCL_HAS_THREAD_API_CUDA). Every blocking libcu++
// facility (cuda::barrier and cuda::std::barrier waits, cuda::pipeline waits, atomic wait,
// semaphores, latches) polls through __cccl_thread_poll_with_backoff, which calls these two
// between polls: here they let the block's other CUDA threads (fibers of the same OS thread)
// run, so a wait never spins its OS thread while the thread it waits for cannot.
#ifndef _CUDA_STD___THREAD_THREADING_SUPPORT_CUDA_H
#define _CUDA_STD___THREAD_THREADING_SUPPORT_CUDA_H

#include <cuda/std/detail/__config>
#include <cuda/std/__chrono/duration.h>

#include <cuda/std/__cccl/prologue.h>

_CCCL_BEGIN_NAMESPACE_CUDA_STD

_CCCL_HOST_DEVICE_API inline void __cccl_thread_yield()
{
  ::suite_host_yield(::suite_host_site{__FILE__, __LINE__});
}

_CCCL_HOST_DEVICE_API inline void __cccl_thread_sleep_for(::cuda::std::chrono::nanoseconds)
{
  ::suite_host_yield(::suite_host_site{__FILE__, __LINE__});
}

_CCCL_END_NAMESPACE_CUDA_STD

#include <cuda/std/__cccl/epilogue.h>

#endif // _CUDA_STD___THREAD_THREADING_SUPPORT_CUDA_H
