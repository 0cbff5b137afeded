"""The NumPy and PyTorch references on their own: init, gradients, optimizers, documented differences."""

import math

import pytest

from loopnet import MultiLayerNet, Rng, optimizers
from loopnet.errors import DataError, ShapeError

np = pytest.importorskip("numpy")
numpy_net = pytest.importorskip("loopnet.reference.numpy_net")

OPTIMIZER_NAMES = ("sgd", "momentum", "adagrad", "adam")


def _data(n_rows: int, n_in: int, n_out: int, seed: int = 3):
    rng = Rng(seed)
    x = np.array([[rng.uniform() for _ in range(n_in)] for _ in range(n_rows)])
    return x, np.array(rng.choice(n_out, n_rows))


def _grad_sequence(shape, steps: int, seed: int = 11) -> list:
    """Gradients spanning magnitudes 1e-9 .. 1 (AdaGrad/Adam behave differently at each)."""
    rng = Rng(seed)
    size = int(np.prod(shape))
    return [np.array([rng.normal() * 10.0 ** -(i % 10) for i in range(size)]).reshape(shape)
            for _ in range(steps)]


# ------------------------------------------------------------------------------- NumpyNet
@pytest.mark.parametrize("weight_init", [0.01, "he", "xavier", "uniform"])
def test_numpy_net_draws_loopnets_initial_weights(weight_init):
    sizes = [9, 7, 4]
    net = MultiLayerNet(sizes, weight_init=weight_init, seed=4)
    ref = numpy_net.NumpyNet(sizes, weight_init=weight_init, seed=4)
    for name in net.names:
        assert np.array_equal(ref.params[name], np.array(net.get_params()[name]))


@pytest.mark.parametrize("output", ["softmax", "identity"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_numpy_backprop_matches_its_own_numerical_gradient(activation, output):
    """An independent check of the reference: central differences of its own loss."""
    ref = numpy_net.NumpyNet([5, 4, 3, 3], activation, output, weight_decay=0.1,
                             weight_init="uniform", seed=1)
    x, labels = _data(6, 5, 3)
    t = np.eye(3)[labels] if output == "identity" else labels
    grads = ref.gradient(x, t)
    h = 1e-5
    for name, p in ref.params.items():
        flat = p.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + h
            upper = ref.loss(x, t)
            flat[i] = saved - h
            lower = ref.loss(x, t)
            flat[i] = saved
            numeric = (upper - lower) / (2 * h)
            analytic = grads[name].reshape(-1)[i]
            # the 1e-7 guard makes the softmax loss's true derivative differ by ~1e-7·|dA|
            assert abs(numeric - analytic) <= 1e-7 * max(1.0, abs(numeric)), (name, i)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_numpy_optimizers_are_loopnets_formulas_bit_for_bit(name):
    """Element-wise, the NumPy optimizers do the very float operations of the loops."""
    shape = (4, 6)
    start = _grad_sequence(shape, 1, seed=2)[0]
    ours = {"W1": [float(v) for v in start.reshape(-1)]}
    theirs = {"W1": start.copy()}
    loop_opt = optimizers.make_optimizer(name, 0.05)
    np_opt = numpy_net.make_optimizer(name, 0.05)
    for g in _grad_sequence(shape, 6):
        loop_opt.update(ours, {"W1": g.tolist()})
        np_opt.update(theirs, {"W1": g})
    assert np.array_equal(np.array(ours["W1"]).reshape(shape), theirs["W1"])


def test_fit_visits_the_samplers_minibatches():
    x, labels = _data(30, 6, 3)
    a = numpy_net.NumpyNet([6, 5, 3], seed=2)
    b = numpy_net.NumpyNet([6, 5, 3], seed=2)
    losses = a.fit(x, labels, 4, 8, numpy_net.SGD(0.1), Rng(5))
    sampler = Rng(5)
    expected = []
    for _ in range(4):
        idx = sampler.choice(30, 8)
        expected.append(b.train_step(x[idx], labels[idx], numpy_net.SGD(0.1)))
    assert losses == expected
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.names)


def test_numpy_net_api_matches_loopnet_on_one_example():
    net = MultiLayerNet([6, 5, 3], weight_init="he", seed=8)
    ref = numpy_net.NumpyNet.from_loopnet(net)
    x, labels = _data(1, 6, 3)
    assert np.abs(ref.predict(x[0]) - np.array(net.predict(x))).max() < 1e-15
    assert abs(ref.loss(x, labels) - net.loss(x, labels)) < 1e-15
    assert ref.accuracy(x, labels) == net.accuracy(x, labels)


def test_numpy_net_rejects_bad_shapes_and_labels():
    with pytest.raises(ShapeError):
        numpy_net.NumpyNet([3, 2], params={"W1": np.zeros((2, 3)), "b1": np.zeros(2)})
    ref = numpy_net.NumpyNet([3, 2])
    with pytest.raises(ShapeError):
        ref.predict(np.zeros((2, 4)))
    with pytest.raises(DataError):
        ref.loss(np.zeros((2, 3)), [0, 2])


# ------------------------------------------------------------------------------- TorchNet
@pytest.fixture
def torch_net():
    pytest.importorskip("torch", reason="PyTorch oracle needs torch (pip install loopnet[torch])")
    from loopnet.reference import torch_net

    return torch_net


@pytest.mark.torch
def test_torch_net_holds_loopnets_weights_transposed(torch_net):
    net = MultiLayerNet([7, 5, 4, 2], activation="sigmoid", weight_init="he", seed=1)
    ref = torch_net.TorchNet.from_loopnet(net)
    assert list(ref.model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                            "4.weight", "4.bias"]
    assert [type(m).__name__ for m in ref.model] == ["Linear", "Sigmoid", "Linear", "Sigmoid",
                                                     "Linear"]
    W1 = np.array(net.get_params()["W1"])
    assert np.array_equal(ref.model[0].weight.detach().numpy(), W1.T)
    for name, value in ref.get_params().items():
        assert np.array_equal(value, np.array(net.get_params()[name]))


@pytest.mark.torch
def test_guarded_loss_gradient_differs_by_the_documented_factor(torch_net):
    """Autograd through log(Y + 1e-7) scales example n's dA by Y_c/(Y_c + 1e-7); the book's
    backward (and loopnet's) leaves it out.  The default TorchNet differentiates the unguarded
    loss and agrees to rounding."""
    net = MultiLayerNet([6, 5, 4], weight_init="uniform", seed=3)
    x, labels = _data(5, 6, 4)
    book = numpy_net.NumpyNet.from_loopnet(net)
    trace = book.trace(x, labels)
    T = np.eye(4)[labels]
    dA = (trace["Y"] - T) / 5
    y_c = trace["Y"][np.arange(5), labels][:, None]
    expected = (dA * y_c / (y_c + 1e-7)).sum(axis=0)

    guarded = torch_net.TorchNet.from_loopnet(net, guard_in_gradient=True).gradient(x, labels)
    default = torch_net.TorchNet.from_loopnet(net).gradient(x, labels)
    assert np.abs(guarded["b2"] - expected).max() < 1e-16
    assert np.abs(default["b2"] - dA.sum(axis=0)).max() < 1e-16
    assert np.abs(guarded["b2"] - default["b2"]).max() > 1e-9  # far above 1e-12: not a rounding


def _torch_run(torch_net, name: str, start, grads, lr: float, plain_adam: bool = False):
    """Apply a torch optimizer to one tensor with the given gradient sequence."""
    import torch

    p = torch.nn.Parameter(torch.tensor(start))
    if plain_adam:
        opt = torch.optim.Adam([p], lr=lr, eps=1e-7, foreach=False)
    else:
        opt = torch_net.make_optimizer(name, [p], lr)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


@pytest.mark.torch
@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_torch_optimizers_follow_the_books_formulas(torch_net, name):
    """Same start and gradients: torch's optimizer vs the book's, within a few ulps per step."""
    shape = (5, 8)
    start = _grad_sequence(shape, 1, seed=4)[0]
    grads = _grad_sequence(shape, 10)
    ref = {"W": start.copy()}
    book = numpy_net.make_optimizer(name, 0.05)
    path = np.abs(start)  # |W_0| + Σ_t |W_t - W_(t-1)|: the size of every value rounded on the way
    for g in grads:
        before = ref["W"].copy()
        book.update(ref, {"W": g})
        path += np.abs(ref["W"] - before)
    got = _torch_run(torch_net, name, start, grads, 0.05)
    # the formulas are equal in real arithmetic: what is left is rounding, measured ≤ 1.35 ulp
    # of the path (SGD is not bit-exact either: torch's add(alpha=-η) may fuse the multiply-add)
    assert (np.abs(got - ref["W"]) <= 4 * np.finfo(float).eps * path).all()


@pytest.mark.torch
def test_book_adam_eps_is_what_makes_torch_adam_coincide(torch_net):
    """Plain torch Adam(eps=1e-7) puts ε after dividing by √(1-β2^t): a real formula difference,
    visible on small gradients; BookAdam's per-step ε removes it."""
    shape = (5, 8)
    start = np.zeros(shape)
    grads = [g * 1e-6 for g in _grad_sequence(shape, 5)]  # √v comparable to ε
    ref = {"W": start.copy()}
    book = numpy_net.Adam(0.001)
    for g in grads:
        book.update(ref, {"W": g})
    matched = _torch_run(torch_net, "adam", start, grads, 0.001)
    plain = _torch_run(torch_net, "adam", start, grads, 0.001, plain_adam=True)
    assert np.abs(matched - ref["W"]).max() < 1e-17
    assert np.abs(plain - ref["W"]).max() > 1e-6


@pytest.mark.torch
def test_torch_net_rejects_bad_shapes(torch_net):
    with pytest.raises(ShapeError):
        torch_net.TorchNet([3, 2], params={"W1": np.zeros((2, 3)), "b1": np.zeros(2)})
    ref = torch_net.TorchNet([3, 2], params={"W1": np.zeros((3, 2)), "b1": np.zeros(2)})
    with pytest.raises(DataError):
        ref.gradient(np.zeros((1, 3)), [5])
    assert math.isclose(ref.loss(np.zeros((1, 3)), [1]), -math.log(0.5 + 1e-7))


# ------------------------------------------------------------------------------- sigmoid outputs
SIGMOID_PAIRS = [("sigmoid", "cross_entropy", 1e-7), ("sigmoid", "cross_entropy", 0.0),
                 ("sigmoid", "squared_error", 1e-7)]


def _soft_teachers(n_rows: int, n_out: int, seed: int = 6):
    """Teacher values in [0, 1], a third of them exactly 0 or 1 (both logistic terms count)."""
    rng = Rng(seed)
    return np.array([[float(rng.randbelow(2)) if rng.uniform() < 1 / 3 else rng.uniform()
                      for _ in range(n_out)] for _ in range(n_rows)])


@pytest.mark.parametrize("output, loss, guard", SIGMOID_PAIRS)
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_numpy_sigmoid_outputs_match_their_own_numerical_gradient(activation, output, loss,
                                                                  guard):
    """Backward of the sigmoid layers against central differences of the reference's loss
    (with g = 0 the logistic derivative is exact; with 1e-7 it is g/P relatively away)."""
    ref = numpy_net.NumpyNet([5, 4, 3], activation, output, weight_decay=0.1,
                             weight_init="uniform", seed=1, loss=loss, log_guard=guard)
    x, _ = _data(6, 5, 3)
    t = _soft_teachers(6, 3)
    grads = ref.gradient(x, t)
    h = 1e-5
    for name, p in ref.params.items():
        flat = p.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + h
            upper = ref.loss(x, t)
            flat[i] = saved - h
            lower = ref.loss(x, t)
            flat[i] = saved
            numeric = (upper - lower) / (2 * h)
            tolerance = 1e-8 + 10 * guard  # the guard moves the derivative by ~g/P
            assert abs(numeric - grads[name].reshape(-1)[i]) <= tolerance * max(1.0, abs(numeric))


@pytest.mark.parametrize("output, loss, guard", SIGMOID_PAIRS)
def test_references_agree_with_loopnet_on_sigmoid_outputs(torch_net, output, loss, guard):
    net = MultiLayerNet([6, 5, 4], activation="tanh", output=output, loss=loss, log_guard=guard,
                        weight_init="he", weight_decay=0.01, seed=2)
    x, _ = _data(7, 6, 4)
    t = _soft_teachers(7, 4)
    ours = net.gradient(x, t)
    for ref in (numpy_net.NumpyNet.from_loopnet(net), torch_net.TorchNet.from_loopnet(net)):
        assert (ref.output, ref.loss_name, ref.log_guard) == (output, loss, guard)
        assert abs(ref.loss(x, t) - net.loss(x, t)) <= 1e-12
        theirs = ref.gradient(x, t)
        for name in net.names:
            assert np.abs(np.array(ours[name]) - theirs[name]).max() <= 1e-12, name


def test_references_give_the_kernels_infinite_loss_without_guard(torch_net):
    """g = 0 and a true value of probability exactly 0: +inf everywhere, never NaN."""
    net = MultiLayerNet([2, 2], output="sigmoid", log_guard=0.0)
    net.set_params({"W1": [[100.0, 0.0], [0.0, 0.0]], "b1": [0.0, 0.0]})
    x, t = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert net.loss(x, t) == math.inf
    assert numpy_net.NumpyNet.from_loopnet(net).loss(x, t) == math.inf
    assert torch_net.TorchNet.from_loopnet(net).loss(x, t) == math.inf


def test_guarded_logistic_gradient_differs_by_p_over_p_plus_g(torch_net):
    """Autograd through the guarded logistic cost scales each unit's dA by P/(P + g), P = Y
    for T = 1 and 1 - Y for T = 0; the default TorchNet (and loopnet) leaves the factor out."""
    net = MultiLayerNet([6, 5, 4], output="sigmoid", weight_init="uniform", seed=3)
    x, labels = _data(5, 6, 4)
    T = np.eye(4)[labels]
    Y = numpy_net.NumpyNet.from_loopnet(net).trace(x, T)["Y"]
    P = np.where(T == 1.0, Y, 1.0 - Y)
    dA = (Y - T) / 5
    guarded = torch_net.TorchNet.from_loopnet(net, guard_in_gradient=True).gradient(x, T)
    default = torch_net.TorchNet.from_loopnet(net).gradient(x, T)
    assert np.abs(guarded["b2"] - (dA * P / (P + 1e-7)).sum(axis=0)).max() < 1e-16
    assert np.abs(default["b2"] - dA.sum(axis=0)).max() < 1e-16
    assert np.abs(guarded["b2"] - default["b2"]).max() > 1e-9
