"""suite.nn on the host backend: the layers against torchvision's and torch's in forward and
gradients, float64 gradchecks of the backward kernels, training on the kernels against the references,
initialisation, weight loading, errors."""

import copy

import pytest
import torch
import torchvision
from torch.autograd import gradcheck

from suite import nn as snn
from suite.errors import InputError, OpArgumentError

ATOL = RTOL = 1e-4  # float32 layers that sum a few dozen products


def _randomize(module: torch.nn.Module, seed: int, scale: float = 0.5) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen))


@pytest.fixture
def attention_autograd():
    """Skips a test that needs suite.ops.attention's backward kernels where this branch lacks them."""
    q = torch.zeros(1, 1, 1, 8, requires_grad=True)
    if not snn.ops.attention(q, q, q, backend="host").requires_grad:
        pytest.skip("suite.ops.attention has no autograd here (issue 16's attention half)")


def _grads(outputs, tensors, seed):
    """Gradients of a random projection of `outputs` (so every output element matters)."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(outputs.shape, generator=gen)
    return torch.autograd.grad(outputs, tensors, weight)


# --- DeformConv2d --------------------------------------------------------------------------------


@pytest.mark.parametrize("modulated, groups, offset_groups, stride, padding, dilation", [
    (False, 1, 1, 1, 1, 1),
    (True, 2, 3, (2, 1), (1, 0), (1, 2)),
])
def test_deform_conv2d_matches_torchvision_forward_and_gradients(modulated, groups, offset_groups, stride, padding, dilation):
    layer = snn.DeformConv2d(6, 4, (3, 2), stride, padding, dilation, groups, offset_groups, modulated=modulated,
                             backend="host")
    _randomize(layer, 0)  # offsets of about a pixel, so sampling is off the grid
    twin = copy.deepcopy(layer)  # its offset/mask convs feed torchvision's layer
    torchvision_layer = torchvision.ops.DeformConv2d(6, 4, (3, 2), stride, padding, dilation, groups)
    torchvision_layer.load_state_dict(layer.state_dict(), strict=False)
    x = torch.randn(2, 6, 7, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)

    out = layer(x)
    expected = torchvision_layer(x, *twin.offsets(x))
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=RTOL)
    ours = _grads(out, [x, *layer.parameters()], seed=2)
    theirs = _grads(expected, [x, torchvision_layer.weight, torchvision_layer.bias,
                               *twin.offset_conv.parameters(), *(twin.mask_conv.parameters() if modulated else ())], seed=2)
    for mine, other in zip(ours, theirs, strict=True):
        torch.testing.assert_close(mine, other, atol=ATOL, rtol=RTOL)


def test_deform_conv2d_loads_torchvision_weights_by_name():
    torchvision_layer = torchvision.ops.DeformConv2d(4, 6, 3, groups=2)
    layer = snn.DeformConv2d(4, 6, 3, groups=2, modulated=True)
    missing, unexpected = layer.load_state_dict(torchvision_layer.state_dict(), strict=False)
    assert sorted(missing) == ["mask_conv.bias", "mask_conv.weight", "offset_conv.bias", "offset_conv.weight"]
    assert unexpected == []
    assert torch.equal(layer.weight, torchvision_layer.weight) and torch.equal(layer.bias, torchvision_layer.bias)


@pytest.mark.parametrize("modulated, weight_factor", [(False, 1.0), (True, 0.5)])
def test_new_deform_conv2d_is_a_plain_convolution(modulated, weight_factor):
    layer = snn.DeformConv2d(4, 6, 3, stride=2, padding=1, dilation=(1, 2), groups=2, modulated=modulated, backend="host")
    offset, mask = layer.offsets(torch.randn(1, 4, 9, 8))
    assert not offset.any() and (mask is None or bool((mask == 0.5).all()))
    x = torch.randn(2, 4, 9, 8, generator=torch.Generator().manual_seed(3))
    expected = torch.nn.functional.conv2d(x, weight_factor * layer.weight, layer.bias, 2, 1, (1, 2), 2)
    torch.testing.assert_close(layer(x), expected, atol=ATOL, rtol=RTOL)


def test_deform_conv2d_gradcheck_float64_through_the_kernel():
    # float64 runs the forward and backward kernels on the host; gradcheck compares the backward
    # kernels with finite differences of the forward kernel.
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(1, 4, 5, 4, generator=gen, dtype=torch.float64)
    offset = 1.5 * torch.randn(1, 2 * 2 * 4, 4, 4, generator=gen, dtype=torch.float64)  # 2 offset groups, 2x2 taps
    weight = torch.randn(2, 2, 2, 2, generator=gen, dtype=torch.float64)  # 2 weight groups
    bias = torch.randn(2, generator=gen, dtype=torch.float64)
    mask = torch.rand(1, 2 * 4, 4, 4, generator=gen, dtype=torch.float64)
    tensors = [t.requires_grad_() for t in (x, offset, weight, bias, mask)]

    def layer(x, offset, weight, bias, mask):
        return snn.deform_conv2d(x, offset, weight, bias, padding=(0, 1), dilation=(1, 2), mask=mask, backend="host")

    assert gradcheck(layer, tensors)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_deform_conv2d_low_precision_gradients_follow_float32(dtype):
    layer = snn.DeformConv2d(4, 4, 3, padding=1, modulated=True, backend="host")
    _randomize(layer, 5)
    x = torch.randn(1, 4, 6, 5, generator=torch.Generator().manual_seed(6))
    low = copy.deepcopy(layer).to(dtype)
    grads32 = _grads(layer(x), list(layer.parameters()), seed=7)
    grads_low = _grads(low(x.to(dtype)).float(), list(low.parameters()), seed=7)
    for g32, g_low in zip(grads32, grads_low, strict=True):
        assert g_low.dtype == dtype
        scale = float(g32.abs().max())
        assert float((g_low.float() - g32).abs().max()) <= 0.05 * scale


# --- MultiheadAttention --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_torch_mha_forward_and_gradients(batch_first, causal, attention_autograd):
    # 4 heads of 8 over 5 and 7 positions, batch 3: a split of the wrong axis keeps every shape.
    embed, heads, batch, seq_q = 32, 4, 3, 5
    seq_k = seq_q if causal else 7
    torch_layer = torch.nn.MultiheadAttention(embed, heads, batch_first=batch_first)
    _randomize(torch_layer, 8)
    layer = snn.MultiheadAttention(embed, heads, batch_first=batch_first, backend="host")
    layer.load_torch_state_dict(torch_layer.state_dict())
    gen = torch.Generator().manual_seed(9)

    def shaped(seq):
        t = torch.randn(batch, seq, embed, generator=gen)
        return (t if batch_first else t.transpose(0, 1).contiguous()).requires_grad_()

    query, key, value = shaped(seq_q), shaped(seq_k), shaped(seq_k)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(seq_q) if causal else None
    expected = torch_layer(query, key, value, need_weights=False, attn_mask=mask, is_causal=causal)[0]
    out = layer(query, key, value, causal=causal)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=RTOL)

    ours = _grads(out, [query, key, value, *layer.parameters()], seed=10)
    theirs = _grads(expected, [query, key, value, *torch_layer.parameters()], seed=10)
    mine = dict(zip(["query", "key", "value", *dict(layer.named_parameters())], ours))
    other = dict(zip(["query", "key", "value", *dict(torch_layer.named_parameters())], theirs))
    for name in ("query", "key", "value", "out_proj.weight", "out_proj.bias"):
        torch.testing.assert_close(mine[name], other[name], atol=ATOL, rtol=RTOL)
    for packed, parts in (("in_proj_weight", "weight"), ("in_proj_bias", "bias")):
        joined = torch.cat([mine[f"{p}_proj.{parts}"] for p in "qkv"])
        torch.testing.assert_close(joined, other[packed], atol=ATOL, rtol=RTOL)


def test_attention_unbatched_input_matches_torch_mha():
    torch_layer = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    _randomize(torch_layer, 11)
    layer = snn.MultiheadAttention(16, 2, backend="host")
    layer.load_torch_state_dict(torch_layer.state_dict())
    x = torch.randn(6, 16, generator=torch.Generator().manual_seed(12))
    torch.testing.assert_close(layer(x, x, x), torch_layer(x, x, x, need_weights=False)[0], atol=ATOL, rtol=RTOL)


def test_grouped_kv_heads_match_sdpa_with_gqa():
    embed, heads, kv_heads, head_dim = 48, 6, 2, 8
    layer = snn.MultiheadAttention(embed, heads, kv_heads, backend="host")
    _randomize(layer, 13)
    x = torch.randn(2, 9, embed, generator=torch.Generator().manual_seed(14))

    def split(proj, n):  # written out independently of the layer: [B, S, n*D] -> [B, n, S, D]
        return proj(x).reshape(2, 9, n, head_dim).permute(0, 2, 1, 3)

    heads_out = torch.nn.functional.scaled_dot_product_attention(
        split(layer.q_proj, heads), split(layer.k_proj, kv_heads), split(layer.v_proj, kv_heads),
        is_causal=True, enable_gqa=True)
    expected = layer.out_proj(heads_out.permute(0, 2, 1, 3).reshape(2, 9, embed))
    torch.testing.assert_close(layer(x, x, x, causal=True), expected, atol=ATOL, rtol=RTOL)


def test_attention_gradcheck_float64_through_the_reference():
    gen = torch.Generator().manual_seed(15)
    q = torch.randn(1, 4, 5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    k, v = (torch.randn(1, 2, 6, 3, generator=gen, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert gradcheck(lambda q, k, v: snn.attention(q, k, v, causal="bottom_right", backend=snn.REFERENCE), (q, k, v))

    layer = snn.MultiheadAttention(8, 4, 2, backend=snn.REFERENCE, dtype=torch.float64)
    _randomize(layer, 16)
    x = torch.randn(2, 3, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x: layer(x, x, x, causal=True), (x,))


def test_attention_state_dict_round_trips_through_torch():
    layer = snn.MultiheadAttention(16, 4, bias=False)
    torch_layer = torch.nn.MultiheadAttention(16, 4, bias=False)
    torch_layer.load_state_dict(layer.torch_state_dict())
    copy_back = snn.MultiheadAttention(16, 4, bias=False)
    copy_back.load_torch_state_dict(torch_layer.state_dict())
    for (name, mine), (_, other) in zip(layer.state_dict().items(), copy_back.state_dict().items(), strict=True):
        assert torch.equal(mine, other), name


def test_torch_weights_refuse_what_they_cannot_describe():
    with pytest.raises(InputError, match="num_kv_heads=1"):
        snn.MultiheadAttention(16, 4, 1).torch_state_dict()
    kdim = torch.nn.MultiheadAttention(16, 4, kdim=8, vdim=8)
    with pytest.raises(InputError, match="k_proj_weight"):
        snn.MultiheadAttention(16, 4).load_torch_state_dict(kdim.state_dict())


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("build, message", [
    (lambda: snn.MultiheadAttention(10, 4), "embed_dim=10 is not divisible by num_heads=4"),
    (lambda: snn.MultiheadAttention(16, 4, 3), "num_heads=4 is not divisible by num_kv_heads=3"),
    (lambda: snn.MultiheadAttention(514, 1), "head dim limit"),
    (lambda: snn.MultiheadAttention(16, 0), "num_heads must be a positive int"),
    (lambda: snn.DeformConv2d(6, 4, 3, groups=4), "in_channels=6 is not divisible by groups=4"),
    (lambda: snn.DeformConv2d(4, 6, 3, groups=4), "out_channels=6 is not divisible by groups=4"),
    (lambda: snn.DeformConv2d(4, 4, 3, offset_groups=3), "in_channels=4 is not divisible by offset_groups=3"),
    (lambda: snn.DeformConv2d(4, 4, (3, 0)), "kernel_size must be at least 1"),
    (lambda: snn.DeformConv2d(4, 4, 3, padding="same"), "padding must be an int or a pair"),
    (lambda: snn.DeformConv2d(4, 4, 3, backend="gpu"), "backend='gpu'"),
])
def test_bad_arguments_name_the_argument(build, message):
    with pytest.raises(InputError, match=message):
        build()


@pytest.mark.parametrize("call, message", [
    (lambda: snn.DeformConv2d(4, 4, 3)(torch.randn(4, 8, 8)), "input must be a 4-D tensor"),
    (lambda: snn.DeformConv2d(4, 4, 3)(torch.randn(1, 3, 8, 8)), r"in_channels=4.*\(1, 3, 8, 8\)"),
    (lambda: snn.MultiheadAttention(8, 2)(torch.randn(1, 2, 3, 8), torch.randn(2, 3, 8), torch.randn(2, 3, 8)), "query"),
    (lambda: snn.MultiheadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 3, 6), torch.randn(2, 3, 8)), "key"),
    (lambda: snn.MultiheadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 3, 8), torch.randn(3, 8)), "value"),
    (lambda: snn.MultiheadAttention(8, 2)(torch.randn(2, 3, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8)),
     "same batch and sequence"),
])
def test_bad_inputs_name_the_argument(call, message):
    with pytest.raises(OpArgumentError, match=message):
        call()


# --- Training on the kernels ---------------------------------------------------------------------


def _loss_curve(model: torch.nn.Module, batches, steps: int) -> list[float]:
    """Losses of `steps` SGD steps (momentum) regressing random targets."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(steps):
        inputs, target = batches[step % len(batches)]
        loss = torch.nn.functional.mse_loss(model(*inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _same_curve(build, batches, steps=5):
    """The loss curve of build(backend) on the host kernels against build("reference"), same initial weights."""
    torch.manual_seed(21)
    kernels = build("host")
    reference = build(snn.REFERENCE)
    reference.load_state_dict(kernels.state_dict())
    ours, theirs = _loss_curve(kernels, batches, steps), _loss_curve(reference, batches, steps)
    assert theirs[-1] < theirs[0]  # it trains
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("deterministic", [False, True])
def test_deform_layer_trains_on_the_kernels_like_the_reference(deterministic):
    def build(backend):
        return torch.nn.Sequential(
            snn.DeformConv2d(3, 4, 3, padding=1, modulated=True, offset_groups=1, backend=backend,
                             deterministic=deterministic),
            torch.nn.ReLU(),
            snn.DeformConv2d(4, 4, 3, padding=1, groups=4, backend=backend, deterministic=deterministic),
        )

    gen = torch.Generator().manual_seed(22)
    batches = [((torch.randn(2, 3, 6, 5, generator=gen),), torch.randn(2, 4, 6, 5, generator=gen)) for _ in range(2)]
    _same_curve(build, batches)


def test_attention_layer_trains_on_the_kernels_like_the_reference(attention_autograd):
    class Block(torch.nn.Module):
        def __init__(self, backend):
            super().__init__()
            self.attention = snn.MultiheadAttention(16, 4, 2, backend=backend)
            self.head = torch.nn.Linear(16, 3)

        def forward(self, x):
            return self.head(self.attention(x, x, x, causal=True))

    gen = torch.Generator().manual_seed(23)
    batches = [((torch.randn(2, 7, 16, generator=gen),), torch.randn(2, 7, 3, generator=gen)) for _ in range(2)]
    _same_curve(Block, batches)
