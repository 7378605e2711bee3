"""The requests between the grader and the student's worker, and their limits, defined once.

Each message is one JSON line (:mod:`.wire`). A request is ``{"op": OP, "id": n, …}``; its answer is
``{"op": "reply", "id": n, …}`` with either a result or ``"error"``. Either side may send a request while
it waits for an answer (the student's code calling back a function the test passed it): requests nest,
and each side serves the other's requests until its own answer comes.
"""

from __future__ import annotations

READY = "ready"  # the worker's first line
REPLY = "reply"

# the grader asks the worker (the student's namespace)
RUN = "run"  # run a cell's code: outputs and error
FETCH = "fetch"  # names from the namespace: plain data or handles; absent names are left out
ASSIGN = "assign"  # bind a name in the namespace (a test reassigned a student's name)
DELETE = "delete"  # remove a name from the namespace (a test deleted a student's name)

# either side asks the other about one of the other side's objects, through its handle
CALL = "call"  # call the object (a function, a class, a bound method)
GETATTR = "getattr"
SETATTR = "setattr"
OPERATOR = "operator"  # one of OPERATORS applied to objects, any of which may be handles
CONVERT = "convert"  # one of CONVERSIONS of the object

# the grader asks the worker about many of its objects in one request: ``steps`` of ["get", handle, name,
# default?], ["set", handle, name, value] or ["call", handle, method name or null, args], done in order and
# answered with their results; the first that raises ends it, and that error is the answer
EACH = "each"
EACH_LIMIT = 20_000  # steps in one request

GRADER_OPS = (RUN, FETCH, ASSIGN, DELETE, CALL, GETATTR, SETATTR, OPERATOR, CONVERT, EACH)
WORKER_OPS = (CALL, GETATTR, SETATTR, CONVERT)  # what student code may ask of the grader's objects

# functions of Python's ``operator`` module a handle supports (the reflected forms come for free)
OPERATORS = frozenset(
    "add sub mul truediv floordiv mod pow matmul neg pos abs invert lshift rshift and_ or_ xor "
    "eq ne lt le gt ge getitem setitem delitem contains "
    "iadd isub imul itruediv ifloordiv imod ipow imatmul isinstance issubclass".split()
)
CONVERSIONS = frozenset({"bool", "float", "int", "index", "len", "list", "str", "repr", "hash"})

OUTPUT_LIMIT = 64 * 1024  # characters of text kept per cell and stream
IMAGE_LIMIT = 512 * 1024  # characters of one base64 image kept
LIST_LIMIT = 100_000  # items of an iterated handle
NESTING_LIMIT = 50  # requests in flight at once (callbacks calling back)
