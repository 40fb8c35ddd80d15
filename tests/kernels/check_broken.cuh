// Included by check_broken.cu: the compile error of `suite check` must name this file and line.
__device__ float check_broken_helper(float x) {
  return x + not_declared_anywhere;  // ERROR HERE
}
