"""Vectorized reference implementations of loopnet's network, used as oracles and baselines.

`loopnet.reference.numpy_net` writes the network the way the book does (batch matrices,
``x @ W + b``, layer objects with ``forward``/``backward``); `loopnet.reference.torch_net` builds
it as a ``torch.float64`` ``nn.Sequential`` trained by autograd and ``torch.optim``;
`loopnet.reference.export` moves weights between loopnet's JSON model files, NumPy ``.npz``
and PyTorch ``state_dict`` files.

NumPy and PyTorch are optional dependencies, so nothing is imported here: import the submodule
you need (``from loopnet.reference.numpy_net import NumpyNet``).
"""
