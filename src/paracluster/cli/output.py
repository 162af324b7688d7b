"""How every command answers: JSON on stdout (filtered by --query), exit 0 on success and 1 on any error."""

from __future__ import annotations

import json
import sys
import time

from paracluster.errors import ClusterError


class CommandFailed(Exception):
    """Raised by a command to print `body` as its JSON answer and exit with code 1 (ParallelCluster's error bodies)."""

    def __init__(self, body: dict):
        super().__init__(body.get("message", ""))
        self.body = body


def fail(message: str, **extra: object) -> CommandFailed:
    """Build the error a command raises: `raise fail("...")` prints {"message": ...} and exits 1."""
    return CommandFailed({"message": message, **extra})


def print_json(body: object, query: str | None = None) -> None:
    if query:
        import jmespath  # only commands given --query pay for the import

        try:
            body = jmespath.search(query, body)
        except jmespath.exceptions.JMESPathError as err:
            raise fail(f"--query '{query}' is not a valid JMESPath expression: {err}") from None
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


def debug_log(args: object, message: str, *values: object) -> None:
    """Log a debug line when --debug is given; other runs never import logging (it costs the CLI process time)."""
    if getattr(args, "debug", False):
        import logging

        logging.getLogger("paracluster.cli").debug(message, *values)


def run_command(args: object) -> int:
    """Run a parsed command; print its JSON answer; turn every failure into one JSON message and exit code 1."""
    debug = getattr(args, "debug", False)
    if debug:
        import logging  # only --debug pays for logging's import

        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    query = getattr(args, "query", None)
    started = time.perf_counter()
    try:
        body = args.handler(args)
        if body is not None:
            print_json(body, query)
        debug_log(args, "%s succeeded in %.3f s", args.command, time.perf_counter() - started)
        return 0
    except CommandFailed as failure:
        body = failure.body
    except ClusterError as err:
        body = err.body()
    except KeyboardInterrupt:
        body = {"message": "interrupted"}
    except Exception as err:  # noqa: BLE001 - the user gets one sentence; --debug shows the traceback
        if debug:
            import traceback

            traceback.print_exc()
        body = {"message": f"failed to run {args.command}: {err}; rerun with --debug for details"}
    debug_log(args, "%s failed in %.3f s: %s", args.command, time.perf_counter() - started, body.get("message"))
    try:
        print_json(body, query)
    except CommandFailed as failure:  # a broken --query on an error body: print the body unfiltered
        print_json(failure.body)
    return 1
