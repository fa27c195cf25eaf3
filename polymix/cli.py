"""The `polymix` command.

Each sub-command lives in its own module under `polymix/commands/` and exposes
`register(subparsers)`; the command imports its heavy dependencies (Beam, JAX) only
when it runs, so `polymix --help` and `polymix verify` stay fast.

Whatever a command does, the process ends one of a few ways: its own exit code; 2 with
one line for a mistake the user can fix; 130 with one line for Ctrl-C; and quietly for
a reader that stopped reading (`polymix model-info | head`); and 2 with one line naming
the extra to install when a command needs a package the install left out.
"""

from __future__ import annotations

import os
import sys

from polymix import commands
from polymix.commands._extras import missing_extra
from polymix.core.errors import UserFacingError

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd program
BROKEN_PIPE = 141  # 128 + SIGPIPE, what a C program killed by the closed pipe reports


def main(argv: list[str] | None = None) -> int:
    command = "polymix"
    try:
        try:
            args = commands.parse(argv)
        except SystemExit:  # --help, --version or a bad command line, already printed
            sys.stdout.flush()
            raise
        command = f"polymix {args.command}"
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it cannot be caught
        return code
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # Point stdout at nothing so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except UserFacingError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a package of an extra that is not installed
        fix = missing_extra(exc)
        if fix is None:
            raise
        print(f"{command}: error: {fix}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
