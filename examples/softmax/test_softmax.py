"""`pytest` here validates every smoke case of softmax.yaml, one test per case id: on the GPU when
CuPy finds one, else on the CPU emulation (SUITE_HOST_CHECKS=memcheck,racecheck adds the checks)."""

from suite.testing import case_tests

test_softmax = case_tests("softmax.yaml")
