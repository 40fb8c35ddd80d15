"""Lane loops give the fiber mode's results, bit for bit (docs/DESIGN.md, "Lane loops"): every smoke
case of a family is run with lanes (the default) and, where one of its kernels ran as lane loops,
again with every thread a fiber (SUITE_HOST_LANES=off); the outputs must not differ in any bit.
Also: a kernel's mode is chosen per kernel and reported, and faults name the lane that faulted."""

import numpy as np
import pytest
import torch

from suite import cases
from suite.backends.host_backend import HostBackend, HostKernel
from suite.emulator.build import source_for_code
from suite.errors import KernelFault
from suite.kernels import get_family

# attention_fa3 is left out: its kernels wait on mbarriers and wgmma (fibers), and its 48 cases
# take minutes on the host.
SMOKE = [c for c in cases.load_cases(cases.default_case_files(), tier="smoke") if c.family != "attention_fa3"]
FAMILIES = sorted({c.family for c in SMOKE})


def _bits(t: torch.Tensor) -> torch.Tensor:
    if t.is_floating_point():
        return t.contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])
    return t


def _outputs(backend, case) -> dict:
    family = get_family(case.family)
    inputs = family.make_inputs(case.params, case.dtype, case.seed, backend.device)
    output = family.run(case.kernel, case.params, inputs, backend).output
    tensors = {"output": output} if isinstance(output, torch.Tensor) else output
    return {k: _bits(v.detach().clone()) for k, v in tensors.items() if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize("family", FAMILIES)
def test_lane_loops_match_fibers_bit_for_bit(family, monkeypatch):
    lane_launches = []
    run = HostKernel.run

    def counting_run(kernel, *args, **kwargs):
        lane_launches.append(kernel.lanes_why is None)
        return run(kernel, *args, **kwargs)

    monkeypatch.setattr(HostKernel, "run", counting_run)
    # One worker: blocks run in order, so float atomics (a backward's dq) add in the same order.
    lanes = HostBackend(threads=1)
    with_lanes = {}
    for case in (c for c in SMOKE if c.family == family):
        lane_launches.clear()
        outputs = _outputs(lanes, case)
        if any(lane_launches):  # only cases with a kernel that ran as lane loops can differ
            with_lanes[case] = outputs
    if not with_lanes:
        pytest.skip(f"no kernel of {family} runs as lane loops: {sorted(set(lanes.execution_modes.values()))}")
    monkeypatch.setenv("SUITE_HOST_LANES", "off")
    fibers = HostBackend(threads=1)
    for case, got in with_lanes.items():
        expected = _outputs(fibers, case)
        assert got.keys() == expected.keys()
        for name in got:
            assert torch.equal(got[name], expected[name]), f"{case.id}: {name} differs between lane loops and fibers"


KERNELS = r"""
extern "C" __global__ void scale(int n, const float* x, float* y, float a) {
    const int i = (blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x * blockDim.y +
                  threadIdx.y * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i];
}
extern "C" __global__ void reduce(const float* x, float* out) {
    __shared__ float s[64];
    s[threadIdx.x] = x[blockIdx.x * 64 + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        float t = 0;
        for (int i = 0; i < 64; ++i) t += s[i];
        out[blockIdx.x] = t;
    }
}
extern "C" __global__ void rounds(const int* count, float* x) {
    for (int i = 0; i < count[0]; ++i) {  // uniform, but read from memory: not provably so
        x[threadIdx.x] += 1.0f;
        __syncthreads();
    }
}
extern "C" __global__ void trap_at(int lane) {
    if (threadIdx.x == lane && blockIdx.x == 1) __trap();
}
"""


@pytest.fixture(scope="module")
def module():
    return HostBackend().load_module(source_for_code(KERNELS), ["scale", "reduce", "rounds", "trap_at"])


def test_each_kernel_gets_its_own_mode_and_the_reason(module):
    assert module.get_function("scale").lanes_why is None
    assert module.get_function("trap_at").lanes_why is None
    assert module.get_function("reduce").lanes_why is None  # rewritten: a region before the barrier, one after
    why = module.get_function("rounds").lanes_why
    assert why.startswith("__syncthreads (lane rewrite: ") and "count" in why, why


def test_a_two_dimensional_grid_and_block_in_lane_loops(module):
    rng = np.random.default_rng(7)
    n = 3 * 5 * 8 * 4 - 11
    x = rng.standard_normal(n).astype(np.float32)
    y = np.full(n, np.nan, np.float32)
    module.get_function("scale")((3, 5), (8, 4), (np.int32(n), x, y, np.float32(1.5)))
    assert np.array_equal(y, x * np.float32(1.5))


def test_a_fault_in_lane_loops_names_the_lane(module):
    with pytest.raises(KernelFault, match=r"block \(1, 0, 0\), thread \(37, 0, 0\): __trap\(\) called"):
        module.get_function("trap_at")((3,), (64,), (np.int32(37),))


def test_fibers_after_a_faulted_lane_loop_see_their_own_threads(module):
    with pytest.raises(KernelFault):
        module.get_function("trap_at")((2,), (64,), (np.int32(5),))
    x = np.arange(128, dtype=np.float32)
    out = np.zeros(2, np.float32)
    module.get_function("reduce")((2,), (64,), (x, out))
    assert out.tolist() == [float(x[:64].sum()), float(x[64:].sum())]


def test_suite_run_line_counts_kernels_per_construct_they_wait_at():
    from suite.report import execution_line

    modes = {"a": (), "b": ("__syncthreads", "warp collectives"), "c": ("warp collectives",), "d": ()}
    assert execution_line(modes) == (
        "host execution: 2 of 4 kernel(s) ran as lane loops, 2 on fibers "
        "(kernels waiting at __syncthreads: 1, warp collectives: 2)"
    )
    assert execution_line({}) is None
