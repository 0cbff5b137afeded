"""`loopnet gradcheck`: backprop against numerical gradients; exit 1 above tolerance."""

import argparse

from loopnet.cli.common import (
    add_network_arguments,
    int_list,
    output_options,
    positive_float,
    positive_int,
    weight_init,
)

HELP = "compare backprop gradients with central differences, per parameter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int_list, default=[20, 10, 5], metavar="N,N,...",
                        help="layer widths including input and output (default 20,10,5)")
    parser.add_argument("--init", "--weight-init", dest="init", type=weight_init, default="he",
                        help="weight init: a std or he, xavier, uniform (default he; "
                             "--weight-init is an alias)")
    parser.add_argument("--examples", type=positive_int, default=3,
                        help="examples in the batch (default 3, like the book)")
    parser.add_argument("--samples", type=positive_int, metavar="K",
                        help="check K random entries per tensor instead of all")
    parser.add_argument("--rtol", type=positive_float, default=1e-4,
                        help="relative tolerance (default 1e-4)")
    parser.add_argument("--atol", type=positive_float, default=1e-6,
                        help="absolute tolerance (default 1e-6: covers softmax's 1e-7 log guard)")
    add_network_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from loopnet.gradcheck import check_gradients, random_problem, relative_difference
    from loopnet.memory import PY_FLOAT_BYTES, require_memory
    from loopnet.network import MultiLayerNet

    # the examples as Python floats, and about as much again for the forward pass
    require_memory(2 * args.examples * (args.sizes[0] + args.sizes[-1]) * PY_FLOAT_BYTES,
                   f"--examples {args.examples}")

    net = MultiLayerNet(args.sizes, activation=args.activation, **output_options(args),
                        weight_init=args.init, weight_decay=args.weight_decay, seed=args.seed,
                        backend=args.backend, parallel=args.parallel)
    x, t = random_problem(args.sizes, args.output, args.examples, args.seed)
    checks = check_gradients(net, x, t, samples=args.samples, seed=args.seed, rtol=args.rtol,
                            atol=args.atol)
    print(f"gradcheck {'-'.join(map(str, args.sizes))} {args.activation}/{args.output}"
          f"+{net.loss_name} g={net.log_guard:g} λ={args.weight_decay}, {args.examples} "
          f"examples, h=1e-4, backend {net.backend.name}")
    print(f"{'param':<6} {'checked':>11} {'mean |diff|':>12} {'max |diff|':>12} {'max rel':>12}")
    failed = []
    for c in checks:
        ok = c.failures == 0
        if not ok:
            failed.append(f"{c.name} ({c.failures} entries)")
        print(f"{c.name:<6} {c.checked:>5}/{c.size:<5} {c.mean_abs:12.3e} {c.max_abs:12.3e} "
              f"{c.max_rel:12.3e}  {'ok' if ok else 'FAIL'}")
    print(f"relative difference ‖backprop − numerical‖ / ‖backprop + numerical‖ = "
          f"{relative_difference(checks):.3e}")
    if failed:
        print(f"FAIL: {', '.join(failed)} beyond |diff| <= {args.atol:g} + {args.rtol:g}·|grad|")
        return 1
    print(f"ok: every entry within |diff| <= {args.atol:g} + {args.rtol:g}·|grad|")
    return 0
