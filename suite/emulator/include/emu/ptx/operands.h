// How translated inline PTX (suite/emulator/ptx) moves values between its operands and the
// instructions: a register's bits are reinterpreted when the widths agree (a "f" operand read by
// mov.b32, an "r" operand read by add.f32), integers are widened or truncated when they do not (an
// immediate, an "r" operand read by a .u64 instruction), as PTX converts register operands.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

template <typename T, typename U>
__forceinline__ T __suite_ptx_get(const U& v) {
    if constexpr (std::is_same<T, bool>::value) {
        if constexpr (std::is_arithmetic<U>::value) return v != 0;
        else static_assert(sizeof(U) == 0, "a predicate operand must be a bool or an integer");
    } else if constexpr (std::is_same<T, U>::value) {
        return v;
    } else if constexpr (sizeof(T) == sizeof(U) && !std::is_same<U, bool>::value) {
        T t;
        std::memcpy(&t, &v, sizeof t);
        return t;
    } else if constexpr (std::is_arithmetic<T>::value && std::is_arithmetic<U>::value) {
        return static_cast<T>(v);
    } else if constexpr (std::is_pointer<U>::value && std::is_integral<T>::value) {
        return static_cast<T>(reinterpret_cast<uintptr_t>(v));
    } else {
        static_assert(sizeof(T) == 0, "inline PTX operand: its C++ type does not fit the constraint or instruction");
    }
}

template <typename T, typename U>
__forceinline__ void __suite_ptx_put(U& dst, const T& v) {
    if constexpr (std::is_same<T, U>::value) dst = v;
    else if constexpr (std::is_same<U, bool>::value) dst = v != 0;
    else if constexpr (sizeof(T) == sizeof(U) && !std::is_same<T, bool>::value) std::memcpy(&dst, &v, sizeof v);
    else if constexpr (std::is_arithmetic<T>::value && std::is_arithmetic<U>::value) dst = static_cast<U>(v);
    else static_assert(sizeof(T) == 0, "inline PTX output: its C++ type does not fit the constraint or instruction");
}

// Immediates 0fXXXXXXXX and 0dXXXXXXXXXXXXXXXX: the bits of a float and of a double.
__forceinline__ float __suite_ptx_f32(uint32_t bits) { return __suite_ptx_get<float>(bits); }
__forceinline__ double __suite_ptx_f64(uint64_t bits) { return __suite_ptx_get<double>(bits); }
