"""What an action module gets while its step runs: paths, the time left, commands with captured output, failures.

Standard library only: this runs inside nodes. Commands run in their own process group, so a step's timeout kills
everything the command started; their output goes to the step's log files and to the run's console log.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import time
from pathlib import Path

TAIL_LINES = 20
TAIL_CHARS = 4000
REBOOT_EXIT_CODE = 194  # AWSTOE on Linux: a script asks for a restart and to be run again after it


def now() -> str:
    """The time as AWS APIs write it: 2024-01-31T12:00:00.123Z."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ActionFailed(Exception):
    """The action failed; str() is the one-line reason recorded for the step."""


class TimedOut(ActionFailed):
    """The step's timeoutSeconds ran out."""


class RebootRequested(Exception):
    """The instance must restart: after a Reboot step (`rerun` False) or an exit code 194 (`rerun` True)."""

    def __init__(self, delay_seconds: int = 0, rerun: bool = False):
        super().__init__(f"reboot requested (delay {delay_seconds} s)")
        self.delay_seconds, self.rerun = delay_seconds, rerun


class CommandResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr


def tail(text: str) -> str:
    """The end of an output: its last lines, at most a few KiB."""
    lines = text.rstrip("\n").splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


class StepContext:
    """One attempt of one step: where files go, how long it may take, and the hooks of the run."""

    def __init__(self, *, cwd: str, log_dir: Path, timeout: int, transfer, update_os, console):
        self.cwd = cwd
        self.log_dir = log_dir
        self.deadline = None if timeout == -1 else time.monotonic() + timeout
        self.timeout = timeout
        self.transfer = transfer
        self.update_os = update_os
        self.console = console  # the run's console log (a text file open for appending)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / "stdout.log"
        self.stderr_path = log_dir / "stderr.log"
        self.stdout_path.write_text("")
        self.stderr_path.write_text("")

    def path(self, value: str) -> str:
        """A path from the document: relative ones are relative to the run's working directory."""
        return os.path.normpath(os.path.join(self.cwd, value))

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def check_time(self) -> None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise TimedOut(f"timed out after {self.timeout} s")

    def log(self, text: str) -> None:
        """A line of the step's own messages, in its output and in the console log."""
        with open(self.stdout_path, "a") as out:
            out.write(text + "\n")
        self.console.write(text + "\n")
        self.console.flush()

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> CommandResult:
        """Run a command to the end (or the step's deadline); its output is captured and logged."""
        self.check_time()
        out_start, err_start = self.stdout_path.stat().st_size, self.stderr_path.stat().st_size
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            try:
                process = subprocess.Popen(argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                           env=env, start_new_session=True)
            except OSError as error:
                raise ActionFailed(f"failed to run {argv[0]}: {error.strerror}") from None
            try:
                code = process.wait(timeout=self.remaining())
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise TimedOut(f"timed out after {self.timeout} s") from None
            except BaseException:
                _kill_group(process)
                raise
        stdout = _read_from(self.stdout_path, out_start)
        stderr = _read_from(self.stderr_path, err_start)
        self.console.write(stdout + stderr)
        self.console.flush()
        return CommandResult(code, stdout, stderr)

    def output_tails(self) -> tuple[str, str]:
        return tail(_read_from(self.stdout_path, 0)), tail(_read_from(self.stderr_path, 0))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as stream:
        stream.seek(offset)
        return stream.read().decode("utf-8", errors="replace")
