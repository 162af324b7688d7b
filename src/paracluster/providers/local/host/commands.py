"""Every host command the local provider runs, through one runner: owned children, clear errors, a record for tests.

The host service is the subreaper of the nodes it boots (their booters exit at once), so it must reap adopted
processes; `ChildReaper` reaps only children that no runner call owns, so `run` always sees its own command's real
exit status. A command that is not installed fails with one sentence naming the Debian package that has it. With
PARACLUSTER_COMMAND_LOG set, each command's program is appended to that file (the tests check that every program
comes from a package scripts/install-deps.sh installs).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from paracluster.errors import ClusterError

LOG_VARIABLE = "PARACLUSTER_COMMAND_LOG"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The Debian package of each program the host side runs that is not in Debian's required set. scripts/install-deps.sh
# installs them; tests/unit/test_host_commands.py checks this table against dpkg and the script.
PACKAGES = {
    "ip": "iproute2", "ss": "iproute2", "nsenter": "util-linux", "losetup": "mount", "mount": "mount",
    "umount": "mount", "mkfs.ext4": "e2fsprogs", "resize2fs": "e2fsprogs", "mkfs.btrfs": "btrfs-progs",
    "btrfs": "btrfs-progs", "vgchange": "lvm2", "vgremove": "lvm2", "ssh-keygen": "openssh-client",
    "haproxy": "haproxy", "mariadbd": "mariadb-server-core", "mariadb-install-db": "mariadb-server-core",
    "mariadb": "mariadb-client-core", "slurmdbd": "slurmdbd", "munged": "munge", "cp": "coreutils",
}

_lock = threading.Lock()  # held while a child is created and registered, and while the reaper decides
_owned: set[int] = set()


def _missing(program: str) -> ClusterError:
    package = PACKAGES.get(Path(program).name)
    hint = f"install the Debian package {package} (scripts/install-deps.sh does)" if package else \
        "install the package that provides it"
    return ClusterError(f"failed to run {program}: the command is not installed; {hint}")


def _note(argv: list[str]) -> None:
    path = os.environ.get(LOG_VARIABLE)
    if path:
        program = shutil.which(argv[0], path=PATH) or argv[0]
        with open(path, "a") as log:
            log.write(program + "\n")


def spawn(argv: list[str], **options) -> subprocess.Popen:
    """Start a host command (owned until it is waited for with `wait` or `release`); Popen's options apply."""
    _note(argv)
    options.setdefault("env", {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root"})
    with _lock:
        try:
            proc = subprocess.Popen(argv, **options)
        except FileNotFoundError:
            raise _missing(argv[0]) from None
        _owned.add(proc.pid)
    return proc


def release(proc: subprocess.Popen) -> None:
    """Give up ownership of a spawned process that is waited for (or abandoned to the reaper)."""
    with _lock:
        _owned.discard(proc.pid)


def run(argv: list[str], *, check: bool = False, timeout: float | None = 60, input: str | bytes | None = None,
        text: bool = True, what: str | None = None, **options) -> subprocess.CompletedProcess:
    """Run a host command to its end and return its result (stdout and stderr captured unless redirected).

    With `check`, a non-zero exit raises ClusterError: `failed to <what>` (or the pasteable command) with the
    output's last lines.
    """
    if "stdout" not in options:
        options["stdout"] = subprocess.PIPE
    if "stderr" not in options:
        options["stderr"] = subprocess.PIPE
    if input is not None:
        options["stdin"] = subprocess.PIPE
    elif "stdin" not in options:
        options["stdin"] = subprocess.DEVNULL
    proc = spawn(argv, text=text, **options)
    try:
        try:
            if subprocess.PIPE in (options["stdin"], options["stdout"], options["stderr"]) or timeout is None:
                stdout, stderr = proc.communicate(input, timeout=timeout)
            else:
                stdout, stderr = None, None
                _wait(proc, timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
        release(proc)
    if check and result.returncode != 0:
        raise ClusterError(f"failed to {what or 'run `' + ' '.join(argv) + '`'} (exit {result.returncode}): "
                           f"{_tail(result)}")
    return result


def _wait(proc: subprocess.Popen, timeout: float) -> None:
    """Wait for a command without pipes in one blocking wait, killing it at the timeout (TimeoutExpired then).

    Popen.wait(timeout) polls with sleeps of up to 50 ms, which a node boot (a command of some 30 ms) would pay.
    """
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
    if expired.is_set():
        raise subprocess.TimeoutExpired(proc.args, timeout)


def _tail(result: subprocess.CompletedProcess) -> str:
    output = result.stderr or result.stdout or ""
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    return " / ".join(output.strip().splitlines()[-3:]) or "no output"


class ChildReaper:
    """Reaps the host service's children that nobody owns: nodes adopted from their booters, orphans of daemons."""

    _pipe: tuple[int, int] | None = None

    @classmethod
    def install(cls) -> None:
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None).prctl(pr_set_child_subreaper, 1, 0, 0, 0)
        # The handler only writes a byte (a lock taken in a signal handler can deadlock the thread it interrupts).
        cls._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: cls.wake())
        threading.Thread(target=cls._loop, daemon=True, name="reaper").start()

    @classmethod
    def wake(cls) -> None:
        try:
            os.write(cls._pipe[1], b"x")
        except (BlockingIOError, TypeError):
            pass  # a wake-up is pending already (or the reaper is not installed)

    @classmethod
    def _loop(cls) -> None:
        import select

        while True:
            # A missed signal (two children ending at once) is caught by the periodic pass.
            ready, _, _ = select.select([cls._pipe[0]], [], [], 5)
            if ready:
                try:
                    os.read(cls._pipe[0], 4096)
                except BlockingIOError:
                    pass
            reap_unowned()


def children() -> list[int]:
    """This process's children (every thread's)."""
    found = []
    task_dir = Path(f"/proc/{os.getpid()}/task")
    for task in task_dir.iterdir():
        try:
            found += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def reap_unowned() -> list[int]:
    """Reap the exited children that no runner call owns; return their PIDs."""
    reaped = []
    with _lock:
        for pid in children():
            if pid in _owned:
                continue
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                reaped.append(pid)
    return reaped
