"""``torch.compile`` for the forward passes of the UDA segmentors (a config switch, off by default).

The forward methods of each segmentor's backbone and decode head are replaced, on the instance,
by compiled versions. The modules themselves stay what they are: parameter names, state dicts,
checkpoints, the EMA update and the DDP wrapper see no difference. DACS calls the decode heads'
``forward`` directly (not through ``__call__``), which is why the methods and not the modules'
``__call__`` are compiled.

``scope='blocks'`` (the default) compiles the backbone's repeated blocks one by one instead of
its whole forward pass ("regional compilation"): the 52 identical transformer blocks of MiT-B5
share one compiled graph per stage shape, so compiling takes a fraction of the time of one graph
unrolled over all of them, while each block's elementwise work still fuses into few kernels.
``scope='whole'`` compiles whole forward passes.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: torch.compile's own defaults, written out so the log and the tests can name them
DEFAULT_OPTIONS: dict[str, Any] = dict(backend='inductor', mode=None, dynamic=None, fullgraph=False)
#: what one compiled unit of a backbone is (see the module docstring)
SCOPES = ('blocks', 'whole')
_CONTAINERS = (nn.ModuleList, nn.Sequential, nn.ModuleDict)
#: graphs one block's code may get: one per stage shape, with and without gradients (student vs
#: teacher / ImageNet model), with and without stochastic depth. torch's default of 8 sends the
#: later stages of MiT back to eager execution
BLOCK_RECOMPILE_LIMIT = 64


def compile_options(cfg: bool | dict | None) -> dict[str, Any] | None:
    """The ``compile`` option of DACS as torch.compile keyword arguments (None: off).

    ``True`` takes torch's defaults (the inductor backend) and compiles block by block; a dict
    overrides some of them, e.g. ``dict(mode='max-autotune-no-cudagraphs')``, ``dict(scope='whole')``
    or ``dict(backend='eager')`` (traces, does not compile).
    """
    if cfg is None or cfg is False:
        return None
    if cfg is True:
        return {**DEFAULT_OPTIONS, 'scope': SCOPES[0]}
    if not isinstance(cfg, dict):
        raise TypeError(f'model.compile must be True, False, None or a dict of torch.compile options, got {cfg!r}')
    known = sorted(DEFAULT_OPTIONS) + ['options', 'scope']
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        raise ValueError(f'model.compile: unknown torch.compile option(s) {unknown}; known: {known}')
    if cfg.get('scope', SCOPES[0]) not in SCOPES:
        raise ValueError(f"model.compile.scope must be one of {list(SCOPES)}, got {cfg['scope']!r}")
    return {**DEFAULT_OPTIONS, 'scope': SCOPES[0], **cfg}


def compile_forward(module: nn.Module, options: dict[str, Any]) -> None:
    """Replace ``module.forward`` by a compiled version of it (on this instance only)."""
    if is_compiled(module):
        return
    module.forward = torch.compile(module.forward, **options)


def is_compiled(module: nn.Module) -> bool:
    """Whether ``compile_forward`` replaced the module's forward or ``nn.Module.compile`` its call."""
    return (hasattr(module.__dict__.get('forward'), '_torchdynamo_orig_callable')
            or getattr(module, '_compiled_call_impl', None) is not None)


def repeated_blocks(part: nn.Module) -> list[nn.Module]:
    """The outermost composite modules of ``part`` whose type occurs more than once in it.

    E.g. MiT's transformer layers and patch embeddings, ResNet's bottlenecks. Containers
    (ModuleList...) and leaves (a lone Linear) are not blocks: compiling a leaf fuses nothing.
    """
    def is_block(module: nn.Module) -> bool:
        return not isinstance(module, _CONTAINERS) and any(True for _ in module.children())

    counts: dict[type, int] = {}
    for module in part.modules():
        if module is not part and is_block(module):
            counts[type(module)] = counts.get(type(module), 0) + 1
    blocks: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if is_block(child) and counts[type(child)] > 1:
                blocks.append(child)
            else:
                visit(child)

    visit(part)
    return blocks


def compile_segmentor(segmentor: nn.Module, options: dict[str, Any]) -> None:
    """Compile an mmseg EncoderDecoder: its backbone (and neck) by ``scope``, its decode head whole.

    The decode head is compiled through its ``forward`` because DACS calls that directly. A
    backbone without repeated blocks is compiled whole.
    """
    options = dict(options)
    scope = options.pop('scope', SCOPES[0])
    if options.get('backend') != 'eager':
        # DACS backpropagates the source loss with retain_graph=True (the feature distance reuses
        # the source features' graph), which AOTAutograd's donated buffers refuse at the first step
        # ("compiled with non-empty donated buffers which requires ... retain_graph=False")
        import torch._functorch.config as functorch_config
        functorch_config.donated_buffer = False
    if scope == 'blocks':
        import torch._dynamo.config as dynamo_config
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, BLOCK_RECOMPILE_LIMIT)
        if options.get('dynamic') is None:
            # static shapes: the stages differ in channel count (their weights' shapes) anyway, and
            # inductor 2.13 failed on the symbolic sizes it chose after the second stage
            # ("cannot determine truth value of Relational: 64*s47 < 64")
            options['dynamic'] = False
    for name in ('backbone', 'neck'):
        part = getattr(segmentor, name, None)
        if not isinstance(part, nn.Module):
            continue
        blocks = repeated_blocks(part) if scope == 'blocks' else []
        if not blocks:
            compile_forward(part, options)
        for block in blocks:
            if not is_compiled(block):
                block.compile(**options)
    head = getattr(segmentor, 'decode_head', None)
    if isinstance(head, nn.Module):
        compile_forward(head, options)
