// What the generated wrapper of a module instantiates for each kernel name expression: a launcher
// that unpacks the argument bytes into the kernel's own parameter types (deduced from the kernel's
// address, so template kernels need no glue) and a signature that Python checks arguments with.
#pragma once

#include <array>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "lanes.h"
#include "runtime_api.h"

extern "C" {
enum suite_host_param_kind {
    SUITE_HOST_POINTER = 0,
    SUITE_HOST_SIGNED = 1,
    SUITE_HOST_UNSIGNED = 2,
    SUITE_HOST_FLOAT = 3,
    SUITE_HOST_BOOL = 4,
    SUITE_HOST_BFLOAT16 = 5,
    SUITE_HOST_OTHER = 6,  // a struct, a vector type, ...: passed as raw bytes of the right size
};
struct suite_host_param {
    int kind;
    int size;
    const char* type;  // g++'s spelling of the parameter type, for messages
    int pointee_kind;  // for pointers: what they point to (size 0: void)
    int pointee_size;
};
}

namespace suite_host {

template <typename T>
const char* type_name() {
    // "... type_name() [with T = const float*]": Python keeps what follows "T = ".
    return __PRETTY_FUNCTION__;
}

template <typename T>
constexpr suite_host_param_kind kind_of() {
    if (std::is_pointer<T>::value) return SUITE_HOST_POINTER;
    if (std::is_same<T, bool>::value) return SUITE_HOST_BOOL;
    if (std::is_integral<T>::value || std::is_enum<T>::value)
        return std::is_signed<T>::value || std::is_enum<T>::value ? SUITE_HOST_SIGNED : SUITE_HOST_UNSIGNED;
    if (std::is_floating_point<T>::value || std::is_same<T, __half>::value) return SUITE_HOST_FLOAT;
    if (std::is_same<T, __nv_bfloat16>::value) return SUITE_HOST_BFLOAT16;
    return SUITE_HOST_OTHER;
}

template <typename T>
constexpr int size_or_zero() {
    if constexpr (std::is_void<T>::value || std::is_function<T>::value) return 0;
    else return int(sizeof(T));
}

template <typename T>
constexpr suite_host_param describe() {
    using Pointee = std::remove_cv_t<std::remove_pointer_t<T>>;
    return {kind_of<T>(), int(sizeof(T)), type_name<T>(), kind_of<Pointee>(), size_or_zero<Pointee>()};
}

template <typename... Args>
const suite_host_param* signature(void (*)(Args...), int* count) {
    static const std::array<suite_host_param, sizeof...(Args)> params = {{describe<std::decay_t<Args>>()...}};
    *count = int(sizeof...(Args));
    return params.data();
}

template <typename T>
T load_argument(const void* bytes) {
    static_assert(std::is_trivially_copyable<T>::value, "kernel parameters must be trivially copyable");
    typename std::aligned_storage<sizeof(T), alignof(T)>::type storage;
    std::memcpy(&storage, bytes, sizeof(T));
    return *reinterpret_cast<const T*>(&storage);
}

// Every CUDA thread calls the kernel with its own copies of the parameters, as on the GPU.
template <typename... Args>
struct Call {
    void (*kernel)(Args...);
    std::tuple<std::decay_t<Args>...> args;

    static void run(void* self) {
        Call* call = static_cast<Call*>(self);
        enter_float_mode();  // float_mode.h: denormals per -ftz
        std::apply(call->kernel, call->args);
    }
};

template <typename... Args, size_t... I>
Call<Args...> make_call(void (*kernel)(Args...), void* const* argv, std::index_sequence<I...>) {
    return Call<Args...>{kernel, std::tuple<std::decay_t<Args>...>(load_argument<std::decay_t<Args>>(argv[I])...)};
}

// Static __shared__ arrays are thread-local variables of the module: the checks find them from
// this anchor's address and its offset in the module's TLS segment (read from the symbol table).
inline thread_local char tls_anchor;
inline void* tls_anchor_address() { return &tls_anchor; }

// A block in lane mode (emu/lanes.h). `Kernel`: a kernel that reaches no barrier nor warp
// collective, called once per lane, inlined into the loop; `Rewritten`: the kernel's lane
// function from suite/emulator/lanes/fission.py (its barriers split it into loops over lanes),
// called once per block; nullptr when there is none. The build decides which kernels may run so.
template <auto Kernel, auto Rewritten, typename... Args>
void run_lanes_with(void (*)(Args...), void* self, const suite_host_thread* block) {
    // A copy on this stack: the compiler knows it is aligned and that the kernel's stores do not
    // change it (loads from the caller's object would each carry an alignment check).
    const std::tuple<std::decay_t<Args>...> args = static_cast<Call<Args...>*>(self)->args;
    enter_float_mode();
    lanes::begin_block(*block, Rewritten != nullptr);
    if constexpr (Rewritten != nullptr) {
        std::apply(Rewritten, args);
    } else {
        lanes::State& state = lanes::current();
        lanes::first_lane(state);
        for (unsigned i = 0; i < state.size; ++i, lanes::next_lane(state)) std::apply(Kernel, args);
    }
}

template <auto Kernel, auto Rewritten = nullptr>
void run_lanes(void* self, const suite_host_thread* block) {
    run_lanes_with<Kernel, Rewritten>(Kernel, self, block);
}

// The generated wrapper's call; `lanes` is the kernel's lane entry (a function of the wrapper, so
// that the build can tell from the object file what it may reach).
template <typename... Args>
int launch(void (*kernel)(Args...), suite_host_lane_entry lanes, const suite_host_launch_config* config,
           void* const* argv, suite_host_fault* fault) {
    Call<Args...> call = make_call(kernel, argv, std::index_sequence_for<Args...>{});
    const suite_host_kernel k{&Call<Args...>::run, &call, sizeof call, &tls_anchor_address, lanes};
    return suite_host_run(config, &k, fault);
}

}  // namespace suite_host
