"""`loopnet conformance`: export the conformance cases, run the Python reference, check a port."""

import argparse
from collections import Counter

from loopnet.conformance import LIBM_MODES, check_results, export_cases, run_reference

HELP = "conformance vectors for ports: export cases, check a port's results against them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Subcommands export, run and check."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    p = sub.add_parser("export", help="write every case and index.json into DIR",
                       description="Write the conformance cases (JSON, schema in "
                                   "docs/conformance.md) into DIR; the same bytes on every run.")
    p.add_argument("dir", metavar="DIR")
    p = sub.add_parser("run", help="run the Python reference on the cases in DIR, "
                                   "writing RESULTS like a port",
                       description="Act as a port: compute every case of DIR with loopnet "
                                   "itself and write RESULTS/<case>.json.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("results", metavar="RESULTS")
    p.add_argument("--transcript", action="store_true",
                   help="answer exp, log, tanh, cos and pow from each case's transcript "
                        "(transcript mode, PORTING.md section 11)")
    p = sub.add_parser("check", help="compare a port's RESULTS with the cases in DIR",
                       description="Print PASS/FAIL per case with the first mismatching value; "
                                   "exit status 1 if any case fails.")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("results", metavar="RESULTS")
    p.add_argument("--strict", action="store_true",
                   help="demand identical bits in every case (what transcript mode gives on "
                        "any platform); results in transcript mode are always held to bits")


def run(args: argparse.Namespace) -> int:
    """Dispatch on the action; `check` returns 1 when a case fails."""
    if args.action == "export":
        names = export_cases(args.dir)
        print(f"wrote {len(names)} cases and index.json to {args.dir}")
        return 0
    if args.action == "run":
        count = run_reference(args.dir, args.results, transcript=args.transcript)
        mode = "transcript" if args.transcript else "own"
        print(f"wrote {count} results ({mode} libm) to {args.results}")
        return 0
    reports = check_results(args.dir, args.results, strict=args.strict)
    width = max(len(r.name) for r in reports) if reports else 0
    for r in reports:
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.name:<{width}}  {r.how}")
    failed = sum(not r.passed for r in reports)
    claims = Counter(r.libm for r in reports if r.libm)
    modes = ", ".join(f"{claims[m]} {m} libm" for m in LIBM_MODES if claims[m]) or "none readable"
    print(f"{len(reports) - failed} passed, {failed} failed (results claim: {modes}"
          f"{'; --strict' if args.strict else ''})")
    return 1 if failed else 0
