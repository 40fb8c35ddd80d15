"""What the profiling-hook tests read back from a profiled launch: one source line's row, and the
counts of the 16 x 64 cp.async -> ldmatrix -> mma kernel that the wrapper and inline-PTX versions
(tests/test_profile_hook.py, tests/test_emu_ptx_profile.py) must both give."""

import torch

from suite.host import profile


def line_of(launch, space, kind, op=""):
    rows = [r for r in launch.lines if (r.space, r.kind, r.op) == (space, kind, op)]
    assert len(rows) == 1, [r.as_dict() for r in launch.lines]
    return rows[0]


def assert_single_instructions(module, name, wavefronts):
    """Run kernel `name` of `module` (in, out) on one warp and check that its cp.async, ldmatrix and mma each count
    as the one instruction they are on a GPU; `wavefronts`: the ldmatrix's, for the tile's pitch."""
    x = torch.rand(16 * 64).half()
    out = torch.empty(32)
    with profile() as launches:
        module.get_function(name)((1,), (32,), (x, out))  # in the context: the profiled build
    assert torch.allclose(out, x[:32].float())  # b is zero: d is zero
    (launch,) = launches
    ldmatrix = line_of(launch, "shared", "load", "ldmatrix")
    assert ldmatrix.requests == 1 and ldmatrix.threads == 32
    assert (ldmatrix.wavefronts, ldmatrix.ideal_wavefronts) == (wavefronts, 4)
    copy_in = line_of(launch, "global", "load", "cp.async")
    assert copy_in.requests == 4 and copy_in.per_request("sectors") == 16  # 32 lanes x 16 contiguous bytes
    copy_out = line_of(launch, "shared", "store", "cp.async")
    assert copy_out.requests == 4
    assert copy_out.per_request("wavefronts") == 4  # each phase of 8 lanes stores one contiguous 128-byte row
    assert launch.mma == 1
