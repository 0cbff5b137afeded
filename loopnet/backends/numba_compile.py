"""What the Numba modules share: the compiled copies of loopnet/kernels.py and their cache names.

The modules of the Numba path read top-down, each importing only the ones above it:
numba_registers and numba_indirect → numba_compile (this) → numba_input_major →
numba_specialized → numba_parallel → numba_backend.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from loopnet.cache import configure_numba_cache

configure_numba_cache()  # before the first njit(cache=True): never cache inside the package

import numba  # noqa: E402

from loopnet import kernels as python_kernels  # noqa: E402
from loopnet.backends import numba_registers as registers  # noqa: E402


def _source_tag() -> str:
    """12 hex digits of the SHA-256 of every source whose code the compiled kernels contain.

    Numba checks a cache entry against its own function's file only, not against the files of
    the functions it calls and compiled in.  A cached caller from numba_parallel.py would keep
    the kernels.py it was compiled with after kernels.py changed (seen: a segfault once a
    kernel's signature changed).  Every compiled name carries this tag, so a changed source
    gets new cache entries instead.
    """
    digest = hashlib.sha256(Path(python_kernels.__file__).read_bytes())
    for path in sorted(Path(__file__).parent.glob("numba_*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


SOURCE_TAG = _source_tag()
COMPILED_MODULE = f"loopnet._compiled_kernels_{SOURCE_TAG}"


def compiled_copy(module_name: str, replacements: dict | None = None, options: dict | None = None):
    """Load loopnet/kernels.py afresh as `module_name` and njit every function defined in it.

    `replacements` maps function names to other (already compiled) functions used instead;
    `options` are more `numba.njit` options.
    `module_name` should end in SOURCE_TAG, since it names the cache entries.
    """
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, python_kernels.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, fn in list(vars(module).items()):
        if inspect.isfunction(fn) and fn.__module__ == module_name:
            # Numba names cache files after the qualname: keep each copy's entries apart
            fn.__qualname__ = f"{module_name.rsplit('.', 1)[-1]}.{name}"
            setattr(module, name, numba.njit(cache=True, **(options or {}))(fn))
    for name, fn in (replacements or {}).items():
        setattr(module, name, fn)
    sys.modules[module_name] = module
    return module


def compiled_kernels():
    """The exact-mode kernels: loopnet/kernels.py compiled unchanged."""
    return compiled_copy(COMPILED_MODULE)


def bound_kernels(activation: int, output: int, kind: int | None = None):
    """loopnet/kernels.py compiled once more for the per-shape entry points (numba_specialized,
    numba_parallel): every function marked to be inlined into them, and, for one activation
    and output, `activation_forward`, `activation_backward` and `output_loss` calling the one
    kernel that their code selects; for an optimizer code `kind`, `update_tensor` too.

    Numba inlines a function's whole body, every branch of a dispatch included, and prunes the
    branches not taken only afterwards; copying the branches cost a quarter of a training
    loop's compile time (measured: 784-50-10, 5.9 s -> 4.9 s, and 4.3 s with the optimizer's
    bound too).  Each replacement is the branch that loopnet/kernels.py's dispatch takes for
    that code, so the operations are the same.  `input_affine_forward`, `affine_forward` and
    `affine_backward` run on local vectors (numba_registers.held_in_registers: the same
    operations, the sums in registers).
    """
    name = (f"loopnet._bound_kernels_a{activation}_o{output}"
            f"{'' if kind is None else f'_k{kind}'}_{SOURCE_TAG}")
    if name in sys.modules:
        return sys.modules[name]
    module = compiled_copy(name, options={"inline": "always"})
    inline = numba.njit(inline="always")
    k = python_kernels
    forward = {k.RELU: module.relu_forward, k.SIGMOID: module.sigmoid_forward,
               k.TANH: module.tanh_forward}.get(activation, module.step_forward)
    if activation == k.RELU:
        relu_backward = module.relu_backward

        def activation_backward(code, z, h, dh, dz, n):
            relu_backward(z, dh, dz, n)
    else:
        smooth_backward = (module.sigmoid_backward if activation == k.SIGMOID
                           else module.tanh_backward)

        def activation_backward(code, z, h, dh, dz, n):
            smooth_backward(h, dh, dz, n)

    def activation_forward(code, z, h, n):
        forward(z, h, n)

    if output in (k.SOFTMAX, k.SIGMOID_CROSS_ENTROPY):
        guarded_loss = (module.softmax_with_loss_forward if output == k.SOFTMAX
                        else module.sigmoid_with_cross_entropy_forward)

        def output_loss(code, log_guard, Z, H, t, t0, sizes):
            last = len(sizes) - 2
            return guarded_loss(Z[last], H[last], t, t0, sizes[last + 1], log_guard)
    else:
        squared_loss = (module.sigmoid_with_squared_error_forward
                        if output == k.SIGMOID_SQUARED_ERROR else module.identity_with_loss_forward)

        def output_loss(code, log_guard, Z, H, t, t0, sizes):
            last = len(sizes) - 2
            return squared_loss(Z[last], H[last], t, t0, sizes[last + 1])

    bound = [activation_forward, activation_backward, output_loss]
    if kind is not None:
        bound.append(_bound_update(module, kind))
    for fn in bound:
        setattr(module, fn.__name__, inline(fn))
    # the layers' kernels with their sums in registers: the same operations
    for fn in registers.held_in_registers(module):
        setattr(module, fn.__name__, fn)
    return module


def _bound_update(module, kind: int):
    """`update_tensor` of `module` calling the one optimizer kernel that `kind` selects."""
    k = python_kernels
    if kind == k.SGD:
        sgd_update = module.sgd_update

        def update_tensor(code, p, g, s1, s2, lr, momentum, beta1, beta2):
            sgd_update(p, g, lr)
    elif kind == k.MOMENTUM:
        momentum_update = module.momentum_update

        def update_tensor(code, p, g, s1, s2, lr, momentum, beta1, beta2):
            momentum_update(p, g, s1, lr, momentum)
    elif kind == k.ADAGRAD:
        adagrad_update = module.adagrad_update

        def update_tensor(code, p, g, s1, s2, lr, momentum, beta1, beta2):
            adagrad_update(p, g, s1, lr)
    else:
        adam_update = module.adam_update

        def update_tensor(code, p, g, s1, s2, lr, momentum, beta1, beta2):
            adam_update(p, g, s1, s2, lr, beta1, beta2)
    return update_tensor


@numba.njit(cache=True)
def check_shape(sizes, activation, output, compiled_sizes, compiled_activation, compiled_output):
    """Raise ValueError unless the call's network shape is the one compiled in."""
    same = (len(sizes) == len(compiled_sizes) and activation == compiled_activation
            and output == compiled_output)
    for k in range(len(sizes)):
        same = same and sizes[k] == compiled_sizes[k]
    if not same:
        raise ValueError("these kernels were compiled for another network shape")


def one_per_shape(kind):
    """A function (sizes, activation, output) -> the one `kind` of that network shape, made on
    first use and kept for the rest of the process."""
    made = {}

    def of_shape(sizes, activation: int, output: int):
        key = (tuple(int(n) for n in sizes), int(activation), int(output))
        if key not in made:
            made[key] = kind(*key)
        return made[key]

    return of_shape
