"""Warm kernels: run the report's notebooks with papermill, a few per kernel.

Most of a notebook run is not the notebook: it is starting a Python kernel and importing pandas,
pandera and plotly in it, about 2.5 s a notebook on two cores, paid six times by a plain
``papermill.execute_notebook`` per notebook. Here each worker thread starts one kernel, has it
import the notebook stack *while the parent process computes the findings* (see
``write_report``), then runs notebooks one after another on it through papermill, with the
``cfposture-warm`` engine registered below. Before each notebook the engine resets the kernel
(``InteractiveShell.reset``: an empty namespace and execution count 1), so a notebook sees only
its own variables, exactly as in a fresh kernel; only the imported modules are kept. Each
notebook is still run by papermill (parameters injected, executed ``.ipynb`` written, errors
raised as ``PapermillExecutionError``) and every notebook is also tested on its own fresh kernel.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from ..errors import CfPostureError

log = logging.getLogger(__name__)

# jsonschema, which nbformat imports (and papermill, nbconvert and plotly's renderers import
# nbformat), imports rfc3987_syntax when it is installed (JupyterLab pulls it in), and that
# module compiles a Lark grammar at import: 1.5 s per process on these machines, for the "iri"
# format check that no notebook schema uses (python-jsonschema/jsonschema#1428). Processes
# cfposture owns do without it: the `cfposture report` command and its kernels (KERNEL_SKIPS);
# jsonschema then has no "iri" format checker. Importing cfposture never does this; a
# notebook's ``setup`` does it in the notebook's kernel (``cfposture.notebook.IRI_GRAMMAR``).
# Likewise hypothesis (a test dependency, often installed beside pandera): pandera imports its
# data-synthesis strategies, and with them hypothesis, on its first validation (~0.2 s), for
# generating example frames, which a report never does. And two more of jsonschema's optional
# format checkers, for the "duration" (isoduration, which imports arrow) and "uri" formats
# (rfc3986_validator compiles its grammar's regex): ~21 ms of each report process's start,
# the command's and its kernel's, for checks nothing there asks for (nbformat, papermill and
# nbconvert validate without a format checker).
SKIPPED_IMPORTS = ("rfc3987_syntax", "hypothesis", "isoduration", "rfc3986_validator")


def skip_slow_imports() -> None:
    """Make the SKIPPED_IMPORTS unimportable in this process (unless already imported)."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


ENGINE = "cfposture-warm"
#: what every notebook imports first; loaded once per kernel while the parent works
WARMUP = (
    # (the SKIPPED_IMPORTS are unimportable in a report kernel from its first line on:
    # ReportKernelSpecs, cfposture._kernel)
    "import cfposture.notebook, cfposture.plots, ipywidgets\n"
    "cfposture.plots.template()\n"
    "cfposture.notebook.use_renderer()\n"
    # the loaded stack out of the collector's sight (gc.freeze): the reset before each
    # notebook ends in a full collection, 0.09 s over these ~150k objects, 0.004 s without
    "import gc as _gc\n"
    "_gc.freeze()\n"
)
#: memory for the audit frames a report process reads, in MB (``load.hold_audit_frames``)
HELD_AUDIT_MB = 256
#: what a kernel runs before each chore: the older snapshots a chore judges read each other's
#: audit events again and again (``cfposture.load._Held``). Not in WARMUP: it imports loading
#: and pandera (~0.2 s), which no notebook needs, only judging
CHORE_PRELUDE = "from cfposture.load import hold_audit_frames as _hold\n_hold({held})\n"
WARMUP_TIMEOUT = 120  # seconds; the imports take ~1.5 s
START_TIMEOUT = 60  # seconds for a new kernel to answer at all
ASK_AGAIN = 1.0  # seconds before a new kernel is asked again whether it is up
#: no cell of the report may run longer (a guard: a scheduled report fails, never hangs)
CELL_TIMEOUT = 3600
#: a fresh namespace and execution count, as in a new kernel; imported modules stay loaded
RESET = "get_ipython().reset(new_session=True)"
KERNEL_ARGS = [
    # each kernel would warn on stderr that it talks TCP on loopback; schedulers and the
    # Quickstart want a quiet command (errors still show)
    "--IPKernelApp.log_level=ERROR",
    # as nbclient does for kernels it starts: no history database shared between kernels
    "--HistoryManager.hist_file=:memory:",
]


# HEARTBEAT: the clients here start no heartbeat channel. Its thread pings the kernel on a
# zmq.asyncio REQ socket, and a send that waits for the socket to become writable can miss its
# wake-up (see _bounded_polls): stop_channels then joined that thread forever (a report hung
# in the warm-up's stop_channels, the notebooks all done). Liveness comes from the kernel
# manager instead: a client made by km.client() asks km whether the process is alive, and
# nbclient checks that while it waits.

#: the longest any client here waits on a kernel socket before it looks again (seconds)
POLL = 0.5


def _bounded_polls(kc: Any) -> None:
    """Make every wait of ``kc`` on its shell and IOPub sockets look again every POLL s.

    A wait on a zmq.asyncio socket can miss the wake-up for a message that is already queued
    (ZMQ's notification descriptor is edge-triggered), and nbclient waits for a cell's reply
    for the cell's whole timeout: reports hung now and then, always in explore's
    widget cell (a burst of comm messages), with the kernel idle and its reply sent; the same
    symptom as jupyter/nbclient#312. Each look ends in a real zero-timeout poll, which finds
    a queued message, so a missed wake-up costs at most POLL seconds."""
    for channel in (kc.shell_channel, kc.iopub_channel):
        channel.get_msg = _patient(channel.get_msg)


def _client(km: AsyncKernelManager) -> Any:
    """A new client of ``km``'s kernel, as every client here is made: no stdin (no frontend),
    no heartbeat (see HEARTBEAT), bounded waits (see _bounded_polls)."""
    kc = km.client()
    kc.allow_stdin = False
    kc.start_channels(hb=False)
    _bounded_polls(kc)
    return kc


def _patient(get_msg: Callable[..., Any]) -> Callable[..., Any]:
    async def get(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(POLL, left))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get


_engine_lock = threading.Lock()


def prepare() -> None:
    """Import papermill and register the engine now, in the caller's thread (see
    ``write_report``: before the notebooks, ahead of nbconvert's import)."""
    _engine()


def _engine() -> str:
    """The ``cfposture-warm`` papermill engine, registered on first use (papermill is imported
    here, late, so that the kernels start before this process loads the notebook stack)."""
    with _engine_lock:
        return _register_engine()


@cache
def _register_engine() -> str:
    from nbclient.util import run_hook
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class ResettingClient(PapermillNotebookClient):
        async def _async_connect(self) -> Any:
            """A client of its own on the running kernel (nbclient's start_new_kernel_client
            without jupyter_client's wait_for_ready, which ends by waiting for 0.2 s of IOPub
            silence: 0.2 s per notebook)."""
            self.kc = _client(self.km)
            await _connected(self.kc, self.startup_timeout)
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        start_new_kernel_client = run_sync(_async_connect)

        def papermill_execute_cells(self) -> None:
            reply = self.wait_for_reply(self.kc.execute(RESET, silent=True, store_history=False))
            if not reply or reply["content"].get("status") != "ok":
                raise CfPostureError("the report's kernel could not be reset between notebooks")
            super().papermill_execute_cells()

    class WarmEngine(NBClientEngine):
        """papermill's nbclient engine on a running kernel (``kernel=``): no start-up. Each
        notebook connects its own client, as nbclient does (0.1-0.3 s with ResettingClient's
        connect). Reusing one client was once blamed for hangs whose cause was missed
        wake-ups (see _bounded_polls); going back to it is not worth that 0.1 s."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            kernel: Kernel = kwargs.pop("kernel")
            kwargs.pop("input_path", None)
            client = ResettingClient(
                nb_man,
                km=kernel.km,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                **kwargs,
            )
            try:
                return client.execute()
            finally:
                if client.kc is not None:  # its own client, per notebook; the kernel stays
                    client.kc.stop_channels()

    papermill_engines.register(ENGINE, WarmEngine)
    return ENGINE


@dataclass(frozen=True)
class Chore:
    """Code an idle kernel runs for the caller; ``done`` is set once it ran (or failed)."""

    code: str
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Kernel:
    """A running kernel; each notebook connects its own client to it."""

    km: AsyncKernelManager


async def _start(kernel: Kernel, cwd: Path, env: dict[str, str]) -> None:
    await kernel.km.start_kernel(cwd=str(cwd), env=env, extra_arguments=KERNEL_ARGS)
    kc = _client(kernel.km)
    try:
        await _answered(kernel, kc, START_TIMEOUT)
        # an optimisation only: if an import fails here, the notebook says so itself
        await _reply(kc, WARMUP, WARMUP_TIMEOUT)
    finally:
        kc.stop_channels()
    log.debug("report: kernel %s started and warm", kernel.km.kernel_id)


async def _answered(kernel: Kernel, kc: Any, timeout: float) -> None:
    """Until the new kernel answers a kernel_info request on shell (asked again every
    ASK_AGAIN s); a RuntimeError once its process is gone, a TimeoutError after ``timeout`` s.

    jupyter_client's ``wait_for_ready`` also waits, after that answer, for an IOPub message
    for up to 0.2 s, and starts over when none came (a new subscription misses what the
    kernel publishes before it is in place): 0.2-0.4 s of every report's kernel start, for a
    channel the warm-up never reads (its reply comes on shell, see ``_reply``). Each
    notebook's own client proves its IOPub subscription itself (``_connected``)."""
    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        try:
            await _reply_to(kc.shell_channel, msg_id, min(deadline, time.monotonic() + ASK_AGAIN))
            return
        except TimeoutError:
            if not await kernel.km.is_alive():
                raise RuntimeError("the kernel died before it answered") from None
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the report's kernel did not answer within {timeout:.0f} s"
                ) from None


async def _reply(kc: Any, code: str, timeout: float) -> dict[str, Any]:
    """Run ``code`` silently; its reply's content. Reads the reply only, as nbclient reads
    replies (execute_interactive also polls IOPub). A TimeoutError after ``timeout`` s."""
    msg_id = kc.execute(code, silent=True, store_history=False)
    try:
        reply = await _reply_to(kc.shell_channel, msg_id, time.monotonic() + timeout)
    except TimeoutError:
        raise TimeoutError(f"the report's kernel did not answer within {timeout:.0f} s") from None
    return reply["content"]


async def _connected(kc: Any, timeout: float) -> None:
    """Until ``kc`` is connected on both channels: a kernel_info reply on shell, then the
    kernel's idle status for that request on IOPub. A new IOPub subscription misses what the
    kernel publishes before it is in place (ZMQ's slow joiner), so seeing that idle proves the
    subscription live and leaves nothing of the request unread; if it does not come, ask
    again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = kc.kernel_info()
        await _reply_to(kc.shell_channel, msg_id, deadline)
        try:
            await _reply_to(
                kc.iopub_channel,
                msg_id,
                min(deadline, time.monotonic() + 1.0),
                lambda m: (
                    m["msg_type"] == "status" and m["content"].get("execution_state") == "idle"
                ),
            )
            return
        except TimeoutError:
            continue  # subscribed too late for that request: ask again
    raise TimeoutError(f"the report's kernel did not answer within {timeout:.0f} s")


async def _reply_to(
    channel: Any,
    msg_id: str,
    deadline: float,
    wanted: Callable[[dict[str, Any]], bool] = lambda m: True,
) -> dict[str, Any]:
    """The first message on ``channel`` answering ``msg_id`` that is ``wanted``; a
    TimeoutError at ``deadline`` (the channel's waits are bounded, see _bounded_polls)."""
    while True:
        try:
            msg = await channel.get_msg(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("no answer from the report's kernel") from None
        if msg["parent_header"].get("msg_id") == msg_id and wanted(msg):
            return msg


async def _chore(kernel: Kernel, code: str) -> None:
    """Run ``code`` on an idle kernel through a client of its own (see WarmEngine)."""
    kc = _client(kernel.km)
    try:
        content = await _reply(kc, code, CELL_TIMEOUT)
    finally:
        kc.stop_channels()
    if content.get("status") != "ok":  # an optimisation failed: the caller does the work
        log.debug("report: kernel chore failed: %s", content.get("evalue"))


class WarmPool:
    """Up to ``workers`` kernels, started (and importing the notebook stack) at once.

    ``start(names, fn)`` calls ``fn(name, kernel)`` for every name, in order, on the warm
    kernels; ``wait()`` returns name → result once all are done and every kernel is shut
    down, or raises the first error. ``close()`` shuts the kernels down unused.

    ``start(..., held=H, gate=G)``: a kernel whose next name is in ``H`` waits until the
    event ``G`` is set (the caller is still computing what those notebooks read). While it
    waits, it asks ``idle()`` for a ``Chore`` (work the caller would otherwise do alone;
    None: nothing now) and runs its code, silently, then sets its ``done``, failed or not (a
    chore is an optimisation: the caller does whatever it left undone); the code's names do
    not outlive the reset before each notebook."""

    def __init__(self, workers: int, *, cwd: Path, env: dict[str, str]) -> None:
        self._cwd, self._env = cwd, env
        self._todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._fn: Callable[[str, Kernel], Any] | None = None
        self._ready, self._abort = threading.Event(), threading.Event()
        self._held: frozenset[str] = frozenset()
        self._gate = threading.Event()
        self._idle: Callable[[], Chore | None] = lambda: None
        self._results: dict[str, Any] = {}
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._worker, name=f"cfposture-kernel-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for t in self._threads:
            t.start()

    def start(
        self,
        names: list[str],
        fn: Callable[[str, Kernel], Any],
        *,
        held: frozenset[str] = frozenset(),
        gate: threading.Event | None = None,
        idle: Callable[[], Chore | None] | None = None,
    ) -> None:
        for name in names:
            self._todo.put(name)
        self._fn = fn
        if gate is not None:
            self._held, self._gate = held, gate
        else:
            self._gate.set()
        if idle is not None:
            self._idle = idle
        self._ready.set()

    def lend(self, idle: Callable[[], Chore | None]) -> None:
        """Before ``start``: a warm kernel runs ``idle()``'s chores until ``start`` is called
        (the caller's work it would otherwise wait through)."""
        self._idle = idle

    def wait(self) -> dict[str, Any]:
        self._join()
        if self._errors:
            raise self._errors[0]
        return self._results

    def close(self) -> None:
        self._abort.set()
        self._ready.set()  # a kernel waiting for start() sees the abort
        self._join()

    def _wait_at_gate(self, kernel: Kernel) -> bool:
        """Until the gate opens (True), running the caller's idle work meanwhile; False if the
        pool is aborted first."""
        while not self._gate.is_set():
            if self._abort.is_set():
                return False
            if not self._run_chore(kernel):
                self._gate.wait(0.05)
        return not self._abort.is_set()

    def _run_chore(self, kernel: Kernel) -> bool:
        """Run one of the caller's chores on ``kernel``; False if there was none."""
        chore = self._idle()
        if chore is None:
            return False
        try:
            run_sync(_chore)(kernel, CHORE_PRELUDE.format(held=HELD_AUDIT_MB) + chore.code)
        finally:
            chore.done.set()
        return True

    def _join(self) -> None:
        for t in self._threads:
            t.join()

    def _worker(self) -> None:
        sockets = _socket_dir()
        kernel = _new_kernel(sockets)
        try:
            for attempt in range(START_ATTEMPTS):
                try:
                    run_sync(_start)(kernel, self._cwd, self._env)
                    break
                except Exception as e:
                    _shut_down(kernel)
                    if attempt + 1 < START_ATTEMPTS and not self._abort.is_set():
                        log.debug("report: kernel start failed (%s); starting another", e)
                        kernel = _new_kernel(sockets)
                        continue
                    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                    raise CfPostureError(
                        f"could not start a Python kernel for the report ({reason}); check"
                        " that `python -m ipykernel --help` works in this environment"
                    ) from None
            while not self._ready.is_set():
                if not self._run_chore(kernel):
                    self._ready.wait(0.05)
            while not self._abort.is_set():
                try:
                    name = self._todo.get_nowait()
                except queue.Empty:
                    return
                if name in self._held and not self._wait_at_gate(kernel):
                    return
                assert self._fn is not None
                self._results[name] = self._fn(name, kernel)
        except BaseException as e:  # wait() raises it in the caller's thread
            self._errors.append(e)
            self._abort.set()
        finally:
            _shut_down(kernel)
            if sockets is not None:
                shutil.rmtree(sockets, ignore_errors=True)


START_ATTEMPTS = 2
"""A kernel that dies before replying is started once more before the report gives up: with
TCP (where IPC is unavailable), a port picked free can be taken before the kernel binds it."""


def _socket_dir() -> Path | None:
    """A private folder (mode 0700) for the kernels' IPC sockets, on POSIX; None elsewhere.

    Over TCP, jupyter_client picks ports by binding to port 0 and releasing them; until the
    kernel binds, any connection's ephemeral source port can take one, and the kernel dies
    with "Address already in use" (seen once in CI). IPC sockets in a folder only this user
    can enter cannot collide, and no other local user can even reach them."""
    if os.name != "posix":
        return None
    return Path(tempfile.mkdtemp(prefix="cfposture-k-"))


#: modules a report kernel never imports: SKIPPED_IMPORTS, and debugpy (see cfposture._kernel)
KERNEL_SKIPS = ("debugpy", *SKIPPED_IMPORTS)


class ReportKernelSpecs(KernelSpecManager):
    """The one kernel a report starts, whatever name it is asked for: this Python, through
    ``cfposture._kernel`` (ipykernel, without the modules in KERNEL_SKIPS: a kernel without
    debugpy starts ~0.1 s sooner). This Python, not whatever "python3" kernelspec is
    installed: the kernels unpickle the view this process computed, so they need the same
    cfposture, pandas and pyarrow."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        argv = [sys.executable, "-m", "cfposture._kernel", ",".join(KERNEL_SKIPS)]
        return KernelSpec(
            argv=[*argv, "-f", "{connection_file}"],
            display_name="Python 3 (cfposture report)",
            language="python",
        )


def _new_kernel(sockets: Path | None) -> Kernel:
    specs = ReportKernelSpecs()
    if sockets is None:
        return Kernel(AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs))
    # ports of an IPC transport are file-name suffixes: a fresh prefix per kernel, short (a
    # socket path has ~100 bytes, and macOS's temporary folders are long)
    prefix = sockets / f"k{next(_KERNEL_NUMBERS)}"
    return Kernel(
        AsyncKernelManager(
            kernel_name="python3", kernel_spec_manager=specs, transport="ipc", ip=str(prefix)
        )
    )


_KERNEL_NUMBERS = itertools.count()


def _shut_down(kernel: Kernel) -> None:
    km = kernel.km
    try:
        if run_sync(km.is_alive)():
            # idle, its notebooks saved: nothing is lost, and a graceful shutdown
            # interrupts the kernel first, which prints a KeyboardInterrupt on stderr.
            # Killed and reaped here first: jupyter_client's kill polls for the death with
            # 0.1 s sleeps (0.12 s a kernel, the last one on the report's critical path);
            # shutdown_kernel then finds it dead and only cleans up (group, files, sockets).
            process = getattr(km.provisioner, "process", None)
            if process is not None:
                try:
                    process.kill()
                    process.wait(timeout=5)
                except Exception as e:  # jupyter_client's own kill below tries again
                    log.debug("kernel kill: %s", e)
            run_sync(km.shutdown_kernel)(now=True)
    except Exception as e:  # a kernel that is already gone
        log.debug("kernel shutdown: %s", e)


def execute(src: Path, dst: Path, params: dict[str, Any], kernel: Kernel) -> Any:
    """Run one notebook through papermill on a warm kernel; returns the executed notebook."""
    import papermill as pm

    return pm.execute_notebook(
        str(src),
        str(dst),
        parameters=params,
        engine_name=_engine(),
        kernel=kernel,
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        execution_timeout=CELL_TIMEOUT,
        # written once at the end (and on error), not twice per cell: each save serialises
        # and validates the whole notebook (~1 s per notebook when it held plotly.js)
        request_save_on_cell_execute=False,
    )
