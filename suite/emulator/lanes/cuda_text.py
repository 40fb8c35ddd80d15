"""The CUDA words of a kernel source, as the lane-loop rewrite needs to see them: blanked for the
C++ grammar (same length, so byte offsets into the original stay valid), and the calls that make a
kernel's threads wait for each other."""

from __future__ import annotations

import re

# Words the C++ grammar does not know; spaces keep every byte offset and line. __global__ and
# __shared__ become `static` (a specifier the grammar keeps in the declaration), so that kernels and
# shared variables can be found by the original word at that specifier (is_marked).
_MARKERS = re.compile(rb"\b(__global__|__shared__)\b")
_WORDS = re.compile(rb"\b(__device__|__host__|__constant__|__managed__|__forceinline__|"
                    rb"__noinline__|__restrict__|__grid_constant__)\b")  # fmt: skip
# ... and those that take an argument list, blanked with it.
_CALLS = re.compile(rb"\b(__launch_bounds__|__align__|__maxnreg__)\s*\(")

_CUDA_WAITS = (r"\b(__syncthreads(_count|_and|_or)?|__syncwarp|__shfl(_up|_down|_xor)?_sync|__ballot_sync|__any_sync|"
               r"__all_sync|__reduce_\w+_sync|__match_\w+_sync)\b")  # fmt: skip
# A kernel is the rewrite's job when its body names one of these (else the plain lane loop runs it).
REWRITE_TRIGGER = re.compile(_CUDA_WAITS + r"|\b(this_thread_block|tiled_partition)\b")
# Calls that make a thread wait for others, as the rewrite finds them in a statement: CUDA's, and a
# cooperative group's (`g.sync()`, `cg::sync(g)`, `cg::reduce(...)`, `g.shfl_down(...)`, `g.any(...)`).
SYNC_CALL = re.compile(_CUDA_WAITS + r"|\b(sync|reduce)\s*\(|\.\s*(shfl\w*|any|all|ballot|match_any|match_all)\s*\(")
# Calls that wait for other threads in ways the rewrite does not model: the kernel keeps fibers.
OTHER_WAITS = re.compile(r"\b(__reduce_\w+_sync|"
                         r"__match_\w+_sync|__activemask|__nanosleep|coalesced_group|binary_partition|labeled_partition|"
                         r"inclusive_scan|exclusive_scan|memcpy_async|barrier_arrive|barrier_wait|"
                         r"coalesced_threads|this_grid|asm|__barrier_sync|mbarrier\w*|cuda::barrier|"
                         r"cuda::pipeline|__pipeline_\w+)\b")  # fmt: skip

# Lines the grammar cannot place (a `#pragma unroll` between a `for` header and its body); they are
# hints g++ ignores, and region statements are copied from the original text, with them.
_PRAGMA = re.compile(rb"^[ \t]*#[ \t]*pragma\b(?:[^\n]*\\\n)*[^\n]*", re.M)
# The suite's own SUITE_DYNAMIC_SMEM(T, name) (kernels_cu/common/smem.cuh) declares `T* const name`
# pointing at the block's dynamic shared memory: read as `T*name=0`, a block-uniform pointer.
_DYNAMIC_SMEM = re.compile(rb"\bSUITE_DYNAMIC_SMEM\(\s*([\w:]+)\s*,\s*(\w+)\s*\)")

SHUFFLES = {"__shfl_sync": "Idx", "__shfl_up_sync": "Up", "__shfl_down_sync": "Down", "__shfl_xor_sync": "Xor"}
BARRIERS = ("__syncthreads", "__syncwarp")
# cooperative_groups: the block's group (no per-thread state: one object serves every lane) and its sync
BLOCK_GROUP = re.compile(r"^((::)?(cooperative_groups|cg)\s*::\s*)?this_thread_block$")
GROUP_SYNC = re.compile(r"^((::)?(cooperative_groups|cg)\s*::\s*)?sync$")
# A 32-thread tile of the block: `tiled_partition<32>(block)`; what it may be asked in a region, its
# shuffles, and cg::reduce over it with one of cooperative_groups' functors.
TILED_PARTITION = re.compile(r"^((::)?(cooperative_groups|cg)\s*::\s*)?tiled_partition\s*<\s*32\s*>$")
TILE_QUERIES = {"thread_rank", "meta_group_rank", "meta_group_size", "size", "num_threads"}
TILE_SHUFFLES = {"shfl": "Idx", "shfl_up": "Up", "shfl_down": "Down", "shfl_xor": "Xor"}
GROUP_REDUCE = re.compile(r"^((::)?(cooperative_groups|cg)\s*::\s*)?reduce$")
REDUCE_OPS = re.compile(r"^((::)?(cooperative_groups|cg)\s*::\s*)(plus|less|greater|bit_and|bit_or|bit_xor)"
                        r"\s*<[\w\s:]+>\s*(\(\s*\)|\{\s*\})$")
VOTES = {"__ballot_sync": "Ballot", "__any_sync": "Any", "__all_sync": "All"}
BLOCK_VOTES = {"__syncthreads_count": 0, "__syncthreads_and": 1, "__syncthreads_or": 2}  # suite_host_barrier's op


def _blank(text: bytes) -> bytes:
    """Spaces, but newlines stay: line numbers must not move."""
    return bytes(b if b == ord("\n") else ord(" ") for b in text)


def _same_length(replacement: bytes, original: bytes) -> bytes:
    return replacement[:-1] + b" " * (len(original) - len(replacement)) + replacement[-1:]


def blank_comments(text: bytes, root) -> bytes:
    """`text` with the comments of its syntax tree blanked: scans for calls must not find them."""
    out, stack = bytearray(text), [root]
    while stack:
        node = stack.pop()
        if node.type == "comment":
            out[node.start_byte:node.end_byte] = _blank(text[node.start_byte:node.end_byte])
        stack.extend(node.children)
    return bytes(out)


def blank_cuda_words(source: bytes) -> bytes:
    source = _PRAGMA.sub(lambda m: _blank(m.group(0)), source)
    source = _DYNAMIC_SMEM.sub(lambda m: _same_length(m.group(1) + b"*" + m.group(2) + b"=0", m.group(0)), source)
    out = bytearray(_WORDS.sub(lambda m: _blank(m.group(0)), _MARKERS.sub(b"static    ", source)))
    for match in _CALLS.finditer(source):
        depth, end = 0, match.end() - 1
        while end < len(source):
            depth += {ord("("): 1, ord(")"): -1}.get(source[end], 0)
            end += 1
            if depth == 0:
                break
        out[match.start():end] = _blank(source[match.start():end])
    return bytes(out)


def is_marked(node, source: bytes, word: str) -> bool:
    """Whether a declaration carries `word` (__global__, __shared__) in the original source."""
    return any(c.type == "storage_class_specifier" and source[c.start_byte:c.end_byte + 4] == word.encode()
               for c in node.children)  # fmt: skip


def full_mask(text: str) -> bool:
    """Whether a mask argument's text is 0xffffffff (as a literal: 0xffffffffu, 4294967295, ~0u, -1)."""
    text = text.strip().strip("()").strip()
    if text in ("~0u", "~0U", "~0", "-1"):
        return True
    try:
        return int(text.rstrip("uUlL"), 0) == 0xFFFFFFFF
    except ValueError:
        return False
