"""The two kinds of error a user can be told about, and how the command line answers them.

Every error the domain raises for a user is one of two kinds, so the command line catches
two classes, once (`cli/main.py`), and no list of error classes has to be kept in step:

* `UserInputError`: the input cannot be acted on (a malformed key, an unknown tenant, a bad
  file or mapping, an unknown backfill run). Fix the input; exit code 2, nothing written.
* `RetryLaterError`: the input is fine but the work cannot finish now (a partition held by
  another run, orphans that stop validation). The same command succeeds later; exit 1.

Anything else is a bug and is allowed to surface as one.
"""


class UserInputError(ValueError):
    """Input the pipeline cannot act on; the message says what is wrong, on one line."""


class RetryLaterError(RuntimeError):
    """Valid input whose work cannot be completed now; the message says what to wait for."""
