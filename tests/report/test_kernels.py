"""The report's warm kernels: each notebook as if on a fresh kernel, nothing left running."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import pytest

from cfposture.cli import main
from cfposture.errors import CfPostureError
from cfposture.report import kernels


def _children() -> list[int]:
    """Live (not zombie) child processes of this test process."""
    me, out = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["kernelspec"]["language"] = "python"
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_notebooks_on_one_kernel_see_only_their_own_names(tmp_path):
    first = _notebook(tmp_path / "a.ipynb", "secret_of_a = 1", "print('a ran')")
    second = _notebook(
        tmp_path / "b.ipynb",
        "import sys\nprint('cfposture.notebook' in sys.modules, 'secret_of_a' in dir())",
        "print(get_ipython().execution_count)",
        # the warm-up's stack is frozen (gc.freeze): the reset's full collection skips it
        "import gc\nprint(gc.get_freeze_count() > 100_000)",
    )
    before = set(_children())
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    done, files = [], set()

    def run(name, kernel):
        src = {"a": first, "b": second}[name]
        nb = kernels.execute(src, tmp_path / f"out-{name}.ipynb", {}, kernel)
        done.append(kernel.km.kernel_id)
        files.add(kernel.km.connection_file)
        return nb

    pool.start(["a", "b"], run)
    results = pool.wait()
    assert len(set(done)) == 1  # both ran on the same kernel
    out = "".join(o.get("text", "") for o in results["b"].cells[0].outputs)
    # the warm-up's modules are loaded, a's variables are gone
    assert out.strip() == "True False"
    assert "".join(o.get("text", "") for o in results["b"].cells[2].outputs).strip() == "True"
    for nb in results.values():  # counted from 1, as on a fresh kernel
        assert [c.execution_count for c in nb.cells] == list(range(1, len(nb.cells) + 1))
    assert (tmp_path / "out-b.ipynb").is_file()
    assert set(_children()) <= before  # every kernel shut down (killed and reaped)
    assert files and not any(Path(f).exists() for f in files)  # and cleaned up after


def test_an_error_stops_the_pool_and_shuts_kernels_down(tmp_path):
    bad = _notebook(tmp_path / "bad.ipynb", "1 / 0")
    before = set(_children())
    pool = kernels.WarmPool(2, cwd=tmp_path, env=dict(os.environ))
    pool.start(
        ["x", "y", "z"], lambda name, k: kernels.execute(bad, tmp_path / f"{name}.ipynb", {}, k)
    )
    with pytest.raises(Exception, match="ZeroDivisionError"):
        pool.wait()
    assert set(_children()) <= before


def test_a_bad_snapshot_fails_before_any_notebook_and_leaves_no_kernel(tmp_path, capsys):
    before = set(_children())
    code = main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert not list((tmp_path / "r" / "notebooks").glob("*.ipynb"))
    assert set(_children()) <= before


def test_a_damaged_older_snapshot_fails_a_cold_report_cleanly(
    sample_history, tmp_path, capsys, monkeypatch
):
    """On a cold trend cache the history is judged while notebooks run and two of them wait
    for it: a damaged older snapshot must end the command with one line naming the file
    (exit 2), no notebook left waiting for trends that never come, and no kernel running."""
    monkeypatch.setenv("CFPOSTURE_CACHE_DIR", str(tmp_path / "cache"))
    older = sorted(sample_history.iterdir())[1]
    damaged = next(older.glob("accounts/*/members.ndjson.gz"))
    # the same size, other bytes: the folder opens (a broken one is skipped with a warning),
    # and reading the file fails its checksum while the trends are judged
    damaged.write_bytes(b"x" * damaged.stat().st_size)
    before = set(_children())
    newest = sorted(sample_history.iterdir())[-1]
    code = main(["report", str(newest), "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert damaged.name in err and "pull the snapshot again" in err
    assert not (tmp_path / "r" / "00-overview.html").exists()
    assert set(_children()) <= before


def test_a_kernel_that_cannot_start_is_a_one_line_error(tmp_path):
    fake = tmp_path / "shadow"
    (fake / "ipykernel").mkdir(parents=True)
    (fake / "ipykernel" / "__init__.py").write_text("raise SystemExit(3)\n")  # dies at once
    env = {**os.environ, "PYTHONPATH": str(fake)}
    pool = kernels.WarmPool(1, cwd=tmp_path, env=env)
    pool.start(["a"], lambda name, k: pytest.fail("no notebook may run"))
    with pytest.raises(CfPostureError, match="could not start a Python kernel") as e:
        pool.wait()
    assert "\n" not in str(e.value)


def test_importing_the_report_changes_no_other_import():
    """Only the command's own processes skip jsonschema's slow optional import; a program that
    imports cfposture.report keeps every module importable."""
    import subprocess
    import sys

    code = (
        "import sys, cfposture.report\n"
        "print([sys.modules.get(n, 'absent') for n in cfposture.report.SKIPPED_IMPORTS])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "None" not in out.stdout, out.stdout


def test_notebooks_are_still_validated_without_the_skipped_format_checkers():
    """The report's processes skip some of jsonschema's optional format checkers; nbformat
    (which papermill and nbconvert call) still validates a notebook and still rejects a broken
    one, and the skipped checkers are really gone (else the skip saved nothing)."""
    import subprocess
    import sys

    code = (
        "from cfposture.report import skip_slow_imports\n"
        "skip_slow_imports()\n"
        "import jsonschema, nbformat\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['outputs'] = 'not a list'\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    left = {'duration', 'uri'} & set(jsonschema.FormatChecker().checkers)\n"
        "    print('rejected', sorted(left))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "rejected []", out.stdout + out.stderr


def test_the_command_validates_frames_without_the_skipped_imports():
    """pandera imports hypothesis on its first validation when it can; the report's processes
    make it unimportable, and loading and judging a snapshot must not need it."""
    import subprocess
    import sys

    from cfposture.report import SKIPPED_IMPORTS

    code = (
        "import sys\n"
        "from cfposture.report import SKIPPED_IMPORTS, skip_slow_imports\n"
        "skip_slow_imports()\n"
        "from cfposture.findings import findings\n"
        "from cfposture.load import load\n"
        "df = findings(load('sample'))\n"
        "print(len(df), [sys.modules[n] for n in SKIPPED_IMPORTS])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, skipped = out.stdout.strip().split(" ", 1)
    assert int(count) > 0
    assert skipped == str([None] * len(SKIPPED_IMPORTS))


def test_the_page_writer_does_not_import_plotly():
    """The report's own process writes pages and the index; the charts are the kernels' work,
    and importing plotly there cost the report's critical path ~0.4 s (benchmarks/README.md)."""
    import subprocess
    import sys

    code = "import sys, cfposture.report.html; print('plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_cell_that_never_ends_is_an_error_not_a_hang(tmp_path, monkeypatch):
    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    monkeypatch.setattr(kernels, "CELL_TIMEOUT", 2)
    before = set(_children())
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(["s"], lambda name, k: kernels.execute(slow, tmp_path / "out.ipynb", {}, k))
    with pytest.raises(TimeoutError):
        pool.wait()
    assert set(_children()) <= before  # the busy kernel is killed too


def test_a_timeout_reads_as_one_line(tmp_path, monkeypatch):
    from cfposture.report import run

    def never(*_args):
        raise TimeoutError("A cell timed out while it was being executed, after 3600 seconds.")

    monkeypatch.setattr(kernels, "execute", never)
    with pytest.raises(CfPostureError, match=r"^notebook explore did not finish: A cell timed"):
        run._run_one("explore", tmp_path, {}, None, None)


def test_a_report_kernel_charts_a_saved_view_without_the_loading_stack(tmp_path):
    """The kernels unpickle the view the parent computed: every call the report's notebooks
    make works without importing loading, the rules or pandera (~0.6 s per kernel)."""
    import subprocess
    import sys

    from cfposture.envvars import REPORT_KERNEL, VIEW_CACHE
    from cfposture.notebook import build_view, save_view

    save_view(build_view("sample"), tmp_path, "sample")
    code = """
import sys
import cfposture.notebook as nb, cfposture.plots as plots
view = nb.setup("sample", min_severity="low")
view = nb.with_scan(view, "")
nb.summary_line(view)
nb.usage_line(view)
plots.findings_by_severity(view.findings)
plots.lp_gap_distribution(view.scores)
plots.granted_vs_used(view.scores)
plots.checklist_trend(nb.checklist_per_snapshot(view))
plots.legacy_exposure_trend(nb.trend(view))
plots.exposure_heatmap(view.snap.tokens, view.scores, view.snap.created_at)
plots.oauth_idle(view.snap.oauth_apps, view.snap.created_at)
plots.severity_dropdown(view.findings)
nb.tokens_to_roll_first(view)
nb.narrowed_policies(view)
nb.explore_rows(view)
view.snap.coverage_gaps
print(len(view.findings), sorted(m for m in ("pandera", "cfposture.load", "cfposture.findings")
                                 if m in sys.modules))
"""
    env = {**os.environ, VIEW_CACHE: str(tmp_path), REPORT_KERNEL: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    n, loaded = out.stdout.strip().split(" ", 1)
    assert int(n) > 0
    assert loaded == "[]"


def test_a_missed_wake_up_costs_one_look_not_the_whole_timeout(monkeypatch):
    """A wait on a kernel socket that misses its wake-up (jupyter/nbclient#312) must look
    again after POLL seconds, not sleep for the cell's whole timeout."""
    import asyncio
    import queue

    monkeypatch.setattr(kernels, "POLL", 0.01)
    asked: list[float | None] = []

    async def flaky(timeout=None):  # the message is there, but the first wait never wakes
        asked.append(timeout)
        if len(asked) == 1:
            await asyncio.sleep(timeout)
            raise queue.Empty
        return {"msg": "reply"}

    got = asyncio.run(kernels._patient(flaky)(timeout=3600))
    assert got == {"msg": "reply"} and asked == [0.01, 0.01]


def test_a_bounded_wait_still_ends_at_its_deadline(monkeypatch):
    import asyncio
    import queue

    monkeypatch.setattr(kernels, "POLL", 0.01)
    asked: list[float] = []

    async def silent(timeout=None):
        asked.append(timeout)
        await asyncio.sleep(timeout)
        raise queue.Empty

    with pytest.raises(queue.Empty):
        asyncio.run(kernels._patient(silent)(timeout=0.05))
    assert len(asked) >= 3 and max(asked) <= 0.01


def test_a_client_subscribed_too_late_asks_again(monkeypatch):
    """IOPub drops what the kernel publishes before a new subscription is in place: the
    client asks for kernel_info again until it sees that request's idle status."""
    import asyncio
    import queue

    monkeypatch.setattr(kernels, "POLL", 0.01)

    class Channel:
        def __init__(self):
            self.q: asyncio.Queue = asyncio.Queue()

        async def get_msg(self, timeout=None):
            try:
                return await asyncio.wait_for(self.q.get(), timeout)
            except TimeoutError:
                raise queue.Empty from None

    class FakeClient:
        def __init__(self):
            self.shell_channel, self.iopub_channel, self.asked = Channel(), Channel(), 0

        def kernel_info(self):
            self.asked += 1
            msg_id = f"k{self.asked}"
            parent = {"msg_id": msg_id}
            self.shell_channel.q.put_nowait({"parent_header": parent, "msg_type": "reply"})
            if self.asked > 1:  # the first request's IOPub messages went before subscribing
                for state in ("busy", "idle"):
                    self.iopub_channel.q.put_nowait(
                        {
                            "parent_header": parent,
                            "msg_type": "status",
                            "content": {"execution_state": state},
                        }
                    )
            return msg_id

    kc = FakeClient()
    asyncio.run(kernels._connected(kc, timeout=30))
    assert kc.asked == 2 and kc.iopub_channel.q.empty()  # nothing of it left unread


class _ShellOnly:
    """A new kernel's client as ``_answered`` sees it: kernel_info answered on shell from the
    ``answer_from``-th request on (None: never); nothing ever comes on IOPub."""

    def __init__(self, answer_from: int | None, alive: bool = True):
        import asyncio

        self.shell_channel = _Queue(asyncio.Queue())
        self.iopub_channel = _Queue(asyncio.Queue())
        self.answer_from, self.asked = answer_from, 0
        self.km = self  # the kernel: ``_answered`` asks it whether its process lives
        self._alive = alive

    async def is_alive(self):
        return self._alive

    def kernel_info(self):
        self.asked += 1
        msg_id = f"k{self.asked}"
        if self.answer_from is not None and self.asked >= self.answer_from:
            reply = {"parent_header": {"msg_id": msg_id}, "msg_type": "kernel_info_reply"}
            self.shell_channel.q.put_nowait(reply)
        return msg_id


class _Queue:
    def __init__(self, q):
        self.q = q

    async def get_msg(self, timeout=None):
        import asyncio
        import queue

        try:
            return await asyncio.wait_for(self.q.get(), timeout)
        except TimeoutError:
            raise queue.Empty from None


def test_a_new_kernel_is_ready_once_it_answers_on_shell(monkeypatch):
    """A request the kernel never saw (sent before it was up) is asked again; its answer on
    shell is enough: no wait for IOPub, which jupyter_client's wait_for_ready adds (0.2-0.4 s
    of every report's start)."""
    import asyncio

    monkeypatch.setattr(kernels, "ASK_AGAIN", 0.01)
    monkeypatch.setattr(kernels, "POLL", 0.01)
    kc = _ShellOnly(answer_from=2)
    asyncio.run(kernels._answered(kc, kc, timeout=30))
    assert kc.asked == 2


def test_a_kernel_gone_or_silent_at_start_is_an_error_not_a_hang(monkeypatch):
    import asyncio

    monkeypatch.setattr(kernels, "ASK_AGAIN", 0.01)
    monkeypatch.setattr(kernels, "POLL", 0.01)
    gone = _ShellOnly(answer_from=None, alive=False)
    with pytest.raises(RuntimeError, match="died before it answered"):
        asyncio.run(kernels._answered(gone, gone, timeout=30))
    assert gone.asked == 1  # found gone at its first look, long before the timeout
    silent = _ShellOnly(answer_from=None)
    with pytest.raises(TimeoutError, match="did not answer within"):
        asyncio.run(kernels._answered(silent, silent, timeout=0.05))
    assert silent.asked >= 2


def test_the_report_s_clients_start_no_heartbeat_thread(tmp_path, monkeypatch):
    """A heartbeat thread stuck in a send made stop_channels hang (see kernels.HEARTBEAT):
    the warm-up, a lent chore and a notebook's client start none."""
    from jupyter_client.channels import HBChannel

    started: list[object] = []
    real = HBChannel.start
    monkeypatch.setattr(HBChannel, "start", lambda self: (started.append(self), real(self)))
    nb = _notebook(tmp_path / "a.ipynb", "print('ran')")
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    gate, chores = threading.Event(), [kernels.Chore("x = 1")]

    def idle():
        if chores:
            return chores.pop()
        gate.set()
        return None

    pool.start(
        ["a"],
        lambda name, k: kernels.execute(nb, tmp_path / "out.ipynb", {}, k),
        held=frozenset({"a"}),
        gate=gate,
        idle=idle,
    )
    out = pool.wait()["a"]
    assert out.cells[0].outputs[0]["text"] == "ran\n"
    assert started == []


def test_held_notebooks_wait_for_the_gate_and_idle_kernels_do_chores_meanwhile(tmp_path):
    """The report's cold history: notebooks that chart no trend run at once, the others wait
    until the trends are in; a kernel waiting runs chores (judging an older snapshot), each
    once, even one that fails; a failed chore does not stop the notebooks."""
    free = _notebook(tmp_path / "free.ipynb", "print('free')")
    marks = tmp_path / "marks"
    marks.mkdir()
    held = _notebook(
        tmp_path / "held.ipynb", f"import os\nprint(sorted(os.listdir({str(marks)!r})))"
    )
    gate = threading.Event()
    lock = threading.Lock()
    todo = [kernels.Chore(f"open({str(marks / str(i))!r}, 'w').close()") for i in range(4)]
    todo.append(kernels.Chore("1 / 0"))  # fails in the kernel: done all the same
    chores = list(todo)
    handed: list[kernels.Chore] = []
    order: list[str] = []

    def idle():
        with lock:
            if not todo:
                return None
            chore = todo.pop(0)
            handed.append(chore)
            return chore

    def run(name, kernel):
        with lock:
            order.append(name)
        src = {"free": free, "held": held}[name.rstrip("0123456789")]
        return kernels.execute(src, tmp_path / f"out-{name}.ipynb", {}, kernel)

    pool = kernels.WarmPool(2, cwd=tmp_path, env=dict(os.environ))
    pool.start(
        ["held1", "free", "held2"], run, held=frozenset({"held1", "held2"}), gate=gate, idle=idle
    )
    for chore in chores:  # every chore is taken by a waiting kernel, none by this test
        assert chore.done.wait(120)
    assert not {"held1", "held2"} & set(order)  # the held ones still wait
    gate.set()
    results = pool.wait()
    assert sorted(order) == ["free", "held1", "held2"]
    assert len(handed) == 5 and all(c.done.is_set() for c in handed)
    for name in ("held1", "held2"):  # ran after every chore, and saw their work
        text = results[name].cells[0].outputs[0]["text"]
        assert text.strip() == "['0', '1', '2', '3']"


def test_a_warm_kernel_runs_lent_chores_before_start(tmp_path):
    """The report's cold history: a kernel warm before this process has its view judges an
    older snapshot meanwhile (``lend``), and the notebooks start after that chore; the
    notebook sees its work. Chores it never took stay with the caller."""
    marks = tmp_path / "marks"
    marks.mkdir()
    nb = _notebook(tmp_path / "a.ipynb", f"import os\nprint(sorted(os.listdir({str(marks)!r})))")
    first = kernels.Chore(f"open({str(marks / 'lent')!r}, 'w').close()")
    todo = [first]
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.lend(lambda: todo.pop(0) if todo else None)
    assert first.done.wait(120)  # before start(): only a lending kernel could have run it
    pool.start(["a"], lambda name, k: kernels.execute(nb, tmp_path / "out.ipynb", {}, k))
    out = pool.wait()["a"]
    assert out.cells[0].outputs[0]["text"].strip() == "['lent']"


def test_report_kernels_hold_the_audit_frames_their_chores_read(tmp_path):
    """A kernel judging older snapshots reads their audit events again for each newer one:
    once it runs a chore it holds them in memory as the report's own process does
    (``load.hold_audit_frames``). Its warm-up imports neither loading nor pandera (~0.2 s of
    every kernel's start; no notebook needs them)."""
    probe = (
        "import sys\nload = sys.modules.get('cfposture.load')\n"
        "print('pandera' in sys.modules, load._read.budget if load else None)"
    )
    nbs = {n: _notebook(tmp_path / f"{n}.ipynb", probe) for n in ("a", "b")}
    chores = [kernels.Chore("pass")]
    gate = threading.Event()

    def idle():  # one chore at the gate, then the gate opens
        if chores:
            return chores.pop()
        gate.set()
        return None

    def run(name, kernel):
        out = kernels.execute(nbs[name], tmp_path / f"{name}-out.ipynb", {}, kernel)
        return out.cells[0].outputs[0]["text"].split()

    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(["a", "b"], run, held=frozenset({"b"}), gate=gate, idle=idle)
    seen = pool.wait()
    assert seen["a"] == ["False", "None"]  # warm, before any chore
    assert seen["b"] == ["True", str(kernels.HELD_AUDIT_MB * 1024 * 1024)]


def test_a_pool_closed_while_lending_shuts_down(tmp_path):
    """A report failing while its kernel runs lent chores (a bad snapshot found by the view)
    shuts the kernel down; no notebook runs."""
    before = set(_children())
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.lend(lambda: None)  # nothing to lend: the kernel polls until start() or close()
    pool.close()
    assert pool.wait() == {}
    assert set(_children()) <= before


def test_an_aborted_pool_does_not_wait_at_the_gate(tmp_path):
    """The report failing while notebooks wait for the trends (a bad older snapshot, an
    interrupt) shuts every kernel down at once rather than waiting for a gate that never
    opens."""
    before = set(_children())
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(
        ["a"],
        lambda name, k: pytest.fail("no notebook may run"),
        held=frozenset({"a"}),
        gate=threading.Event(),
    )
    pool.close()
    assert pool.wait() == {}
    assert set(_children()) <= before


@pytest.mark.skipif(os.name != "posix", reason="IPC sockets are POSIX only; TCP elsewhere")
def test_report_kernels_talk_over_private_ipc_sockets(tmp_path):
    """No TCP port to lose in a race ("Address already in use" killed a kernel in CI): the
    kernels listen on IPC sockets in a folder only this user can enter, removed after."""
    seen: dict = {}

    def look(name, kernel):
        folder = Path(kernel.km.ip).parent
        seen.update(transport=kernel.km.transport, folder=folder, mode=folder.stat().st_mode)
        return name

    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(["x"], look)
    assert pool.wait() == {"x": "x"}
    assert seen["transport"] == "ipc" and seen["mode"] & 0o777 == 0o700
    assert not seen["folder"].exists()


def test_report_kernels_run_this_python_without_a_debugger(tmp_path):
    """Whatever "python3" kernelspec is installed, a report's kernel is this interpreter
    (it unpickles this process's view), started without debugpy (~0.1 s of its start) and
    without the SKIPPED_IMPORTS from its first line on."""
    import json
    import sys

    out = tmp_path / "seen.json"
    code = (
        "import json, sys, ipykernel.debugger as d\n"
        f"open({str(out)!r}, 'w').write(json.dumps([sys.executable, d._is_debugpy_available,"
        f" [n for n in {kernels.KERNEL_SKIPS!r} if sys.modules.get(n, 0) is not None]]))"
    )
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(["x"], lambda name, kernel: kernels.run_sync(kernels._chore)(kernel, code))
    pool.wait()
    executable, debugger, importable = json.loads(out.read_text())
    assert executable == sys.executable and debugger is False and importable == []
    assert {"debugpy", *kernels.SKIPPED_IMPORTS} <= set(kernels.KERNEL_SKIPS)


def test_a_kernel_that_dies_at_start_is_started_once_more(tmp_path, monkeypatch):
    real, calls = kernels._start, []

    async def flaky(kernel, cwd, env):
        calls.append(kernel)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        await real(kernel, cwd, env)

    monkeypatch.setattr(kernels, "_start", flaky)
    pool = kernels.WarmPool(1, cwd=tmp_path, env=dict(os.environ))
    pool.start(["x"], lambda name, kernel: kernel.km.kernel_id)
    assert pool.wait()["x"] == calls[1].km.kernel_id  # the second kernel ran the work
    assert len(calls) == 2


@pytest.mark.parametrize("imported_first", [False, True])
def test_a_notebooks_setup_skips_the_iri_grammar_unless_it_is_loaded(imported_first):
    """An analyst's notebook kernel spends ~2 s compiling rfc3987_syntax's grammar through
    plotly → nbformat → jsonschema unless ``setup`` skips it; a kernel that already loaded it
    keeps it."""
    import subprocess
    import sys

    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('rfc3987_syntax'), 'JupyterLab installs it'\n"
        + ("import rfc3987_syntax\n" if imported_first else "")
        + "import cfposture.notebook as nb\n"
        "view = nb.setup('sample')\n"
        "import jsonschema, plotly.io as pio\n"
        "print(len(view.findings), pio.renderers.default, sys.modules['rfc3987_syntax'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, renderer, module = out.stdout.strip().split(" ", 2)
    assert int(count) > 100 and renderer == "plotly_mimetype+notebook"
    assert (module != "None") == imported_first, module


def test_the_saved_view_keeps_the_audit_events_in_a_file_of_their_own(tmp_path, monkeypatch):
    """The kernels unpickle the view in every notebook; the audit events (800 MB of a 914 MB
    pickle at 100 accounts) are read only by the cells that use them, and are then the same
    frame: the explorer's drill-down and the rules notebook 04 re-runs give the same answers,
    and the summary counts them without reading them."""
    import pickle

    import pandas as pd

    from cfposture.envvars import VIEW_CACHE
    from cfposture.notebook import (
        build_view,
        cached_view,
        principal_detail,
        save_view,
        with_scan,
    )

    full = build_view("sample")
    path = save_view(full, tmp_path, "sample")
    events = full.snap.audit_events
    whole = len(pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL))
    apart = len(pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL))
    assert path.stat().st_size < whole - apart * 0.9  # the events are not in the view's pickle
    monkeypatch.setenv(VIEW_CACHE, str(tmp_path))
    view = cached_view("sample", "", 90, 90)
    assert view is not None
    assert view.snap.summary() == full.snap.summary()
    assert view.snap.__dict__["_audit_events"] is None  # counted, not read
    busiest = events["token_id"].value_counts().index[0]
    for got, want in zip(
        principal_detail(view, busiest), principal_detail(full, busiest), strict=True
    ):
        pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(view.snap.audit_events, events)
    leaks = tmp_path / "scan.csv"
    leaks.write_text(f"token_id,location\n{busiest},ci.yml:3\n")
    pd.testing.assert_frame_equal(
        with_scan(view, str(leaks)).findings, with_scan(full, str(leaks)).findings
    )
    assert "CFP-T09" in set(with_scan(view, str(leaks)).findings["rule_id"])


def test_a_view_saved_again_with_its_trends_replaces_the_first_and_keeps_its_events(
    tmp_path, monkeypatch
):
    """A cold report saves the view first without its trends (for the notebooks that chart
    none), then with them: the second pickle replaces the first whole, the audit events are
    not written twice, and a notebook that computes the trends from the first gets the same."""
    import pandas as pd

    from cfposture.envvars import VIEW_CACHE
    from cfposture.notebook import build_view, cached_view, checklist_per_snapshot, save_view
    from cfposture.notebook import trend as exposure_trend

    full = build_view("sample")
    path = save_view(full, tmp_path, "sample", trends=False)
    [events] = tmp_path.glob("events-*.pkl")
    written = events.stat().st_mtime_ns, events.stat().st_ino
    monkeypatch.setenv(VIEW_CACHE, str(tmp_path))
    first = cached_view("sample", "", 90, 90)
    assert first is not None and "checklist" not in first.extras
    assert save_view(full, tmp_path, "sample") == path
    assert (events.stat().st_mtime_ns, events.stat().st_ino) == written
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, events.name])
    second = cached_view("sample", "", 90, 90)
    assert second is not None
    pd.testing.assert_frame_equal(second.extras["checklist"], checklist_per_snapshot(first))
    pd.testing.assert_frame_equal(second.extras["exposure"], exposure_trend(first))
    # a view holding its trends is saved with them, not judged over again
    monkeypatch.setattr("cfposture.notebook._trends", lambda view: pytest.fail("judged again"))
    assert save_view(full, tmp_path, "sample") == path
