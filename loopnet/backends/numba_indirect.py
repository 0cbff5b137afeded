"""Calling a compiled function through its address (Numba only): each function's code made once.

When a compiled function calls another, Numba links the callee's code into the caller's and
LLVM optimizes and generates the machine code of both once more.  Parallel mode's training loop
calls each part's function (numba_parallel) from a parallel region, which Numba compiles as a
function of its own: every part's code was optimized and generated again for its region and
once more for the loop around them (measured, 784-50-10: LLVM took 12 of the 20 s that a first
parallel run spent compiling).  Called through its address instead, each part is compiled once,
in its own module, and the loop's code holds only the call.  The call is the one Numba makes
to any compiled function (its calling convention: the same arguments, the same return value,
an exception raised by the callee raised in the caller); only the callee is not inlined.

The address is an argument at run time (`address_of`), so the caller's cached code serves any
process.  The caller's argument types must be the callee's compiled signature: `indirect_call`
checks at compile time that they are the ones `address_of` compiled it for.

Caller and callees no longer need each other's code to compile, so two processes can compile
them at the same time (`compiling_only`, used by numba_background on a first run).
"""
import contextlib
from collections.abc import Iterator

import numba
from numba import types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

# name -> the signature that address_of compiled that function for, in this process
_SIGNATURES: dict[str, tuple] = {}
CALLEES, CALLERS = "callees", "callers"
_only: list[str] = []  # what this process compiles, when not both


@contextlib.contextmanager
def compiling_only(what: str) -> Iterator[None]:
    """Within: compile only the CALLEES (the callers that `only_callees()` skips are not run)
    or only the CALLERS (`address_of` records the signature, compiles nothing and gives 0: a
    caller must then be run so that it calls nothing, e.g. on zero steps)."""
    _only.append(what)
    try:
        yield
    finally:
        _only.pop()


def only_callees() -> bool:
    """Whether this process is compiling only the callees (see compiling_only)."""
    return _only[-1:] == [CALLEES]


# (name, the arguments' fingerprints) -> (signature, address) found before in this process
_FOUND: dict[tuple, tuple] = {}


def _fingerprint(value):
    """A key of the value's Numba type: the dispatcher's own fast fingerprint (a few µs for a
    call's arguments, where numba.typeof takes hundreds), else the type itself."""
    try:
        return compute_fingerprint(value)
    except (ValueError, TypeError, NotImplementedError):  # e.g. a typed List
        return numba.typeof(value)


def address_of(name: str, dispatcher, arguments: tuple) -> int:
    """The machine address of `dispatcher` compiled for the types of `arguments` (compiled
    now, or loaded from Numba's cache), recorded under `name` for `indirect_call`'s check."""
    key = (name, *(_fingerprint(value) for value in arguments))
    if key in _FOUND and _only[-1:] != [CALLERS]:
        signature, address = _FOUND[key]
        _SIGNATURES[name] = signature
        return address
    signature = tuple(numba.typeof(value) for value in arguments)
    _SIGNATURES[name] = signature
    if _only[-1:] == [CALLERS]:
        return 0
    dispatcher.compile(signature)
    result = dispatcher.overloads[signature]
    address = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
    _FOUND[key] = signature, address
    return address


def indirect_call(name: str, return_type):
    """A compiled-code function f(address, arguments) calling the compiled function at
    `address` (from `address_of(name, ...)`) with the tuple `arguments`, returning its
    `return_type` value."""

    @intrinsic
    def call_at(typingctx, address, arguments):
        expected = _SIGNATURES.get(name)
        if expected is None or tuple(arguments.types) != expected:
            raise TypingError(f"{name} is called with {arguments.types}, compiled for "
                              f"{expected}")

        def codegen(context, builder, signature, llvm_arguments):
            at, values = llvm_arguments
            with cgutils.if_unlikely(builder, cgutils.is_null(builder, at)):
                # address_of gave 0 (compiling_only(CALLERS)): raise rather than jump there
                context.call_conv.return_user_exc(builder, RuntimeError,
                                                  (f"{name} was not compiled in this process",))
            argument_types = list(signature.args[1].types)
            unpacked = [builder.extract_value(values, k) for k in range(len(argument_types))]
            function_type = context.call_conv.get_function_type(return_type, argument_types)
            callee = builder.inttoptr(at, function_type.as_pointer())
            status, result = context.call_conv.call_function(builder, callee, return_type,
                                                             argument_types, unpacked)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return result

        return return_type(types.int64, arguments), codegen

    return call_at
