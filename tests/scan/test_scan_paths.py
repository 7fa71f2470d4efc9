"""``cfposture scan`` over files, folders and git history, through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import jsonschema
import pytest

from cfposture.cli import main
from cfposture.scan import scan
from cfposture.scan.engine import Engine

BODY = "Zx4CrcFhEIDXk9vL2sTLeARsFp2ZZYbydVDhhIUq"
TOKEN = f"cfut_{BODY}{zlib.crc32(BODY.encode()):08x}"
LOOKALIKE = TOKEN[:-8] + "deadbeef"
LEGACY = "kOjD1yceduu2jxL2uuwT9dkOIudU3_54sLCEud6j"
SARIF_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "data" / "sarif-2.1.0-rtm.5.json").read_text()
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tree with a token, a lookalike, a legacy token, and everything a scanner trips on."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "deploy.py").write_text(f'\n\nTOKEN = "{TOKEN}"\nOTHER = "{LOOKALIKE}"\n')
    (root / ".env").write_text(f"CLOUDFLARE_API_TOKEN={LEGACY}\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + TOKEN.encode())  # binary
    (root / "latin1.txt").write_bytes("café = ".encode("latin-1") + TOKEN.encode() + b"\xff\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"x={TOKEN}\n")
    (root / "escape").symlink_to(outside, target_is_directory=True)  # never followed
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    (root / ".git").mkdir()  # a .git folder is history's business (--git)
    (root / ".git" / "config").write_text(f"x={TOKEN}\n")
    return root


def _json(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict]:
    rc = main(["scan", *args, "--format", "json", "--quiet"])
    return rc, json.loads(capsys.readouterr().out)


ENGINES = ["rg", "hyperscan", "re"]


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_tree(tree: Path, capsys: pytest.CaptureFixture, engine: str) -> None:
    rc, doc = _json(capsys, str(tree), "--engine", engine)
    assert rc == 0
    got = {
        (f["path"].removeprefix(str(tree) + "/"), f["line"], f["format"], f["status"])
        for f in doc["findings"]
    }
    assert got == {
        ("src/deploy.py", 3, "cfut", "credential"),
        ("src/deploy.py", 4, "cfut", "lookalike"),
        (".env", 1, "legacy_token", "credential"),
        ("latin1.txt", 1, "cfut", "credential"),
    }
    s = doc["summary"]
    counts = (s["credentials"], s["lookalikes"], s["skipped_binary"], s["skipped_symlinks"])
    # ripgrep skips binaries and symlinks without telling; the in-process engines count them
    assert counts == ((3, 1, None, None) if engine == "rg" else (3, 1, 1, 2))
    assert s["backend"] == {"rg": "ripgrep"}.get(engine, engine)
    text = json.dumps(doc)
    assert TOKEN not in text and LEGACY not in text and LOOKALIKE not in text


@pytest.mark.parametrize("files, said", [(1, "1 file, "), (2, "2 files, ")])
def test_table_counts_files_in_words(tmp_path: Path, capsys, files: int, said: str) -> None:
    for i in range(files):
        (tmp_path / f"f{i}.env").write_text(f"X={TOKEN}\n")
    assert main(["scan", str(tmp_path)]) == 0
    assert f"lookalike(s); {said}" in capsys.readouterr().out


@pytest.mark.parametrize("use_rg", [True, False])
def test_huge_file_is_mapped_and_scanned(tmp_path: Path, use_rg: bool) -> None:
    big = tmp_path / "big.log"
    with open(big, "wb") as f:
        f.write(b"filler line\n" * 700_000)  # ~8 MB: above the mmap threshold
        f.write(f"late: {TOKEN}\n".encode())
        f.write(b"x" * 100_000 + f" cloudflare_token = {LEGACY}\n".encode())  # a long line
    res = scan([big], use_rg=use_rg)
    got = [(f["line"], f["column"], f["format"]) for f in res.findings]
    assert got == [(700_001, 7, "cfut"), (700_002, 100_021, "legacy_token")]


@pytest.mark.parametrize("filler", [0, 40_000])  # read whole, then in windows around hits
def test_a_file_full_of_keywords_is_scanned_alike_by_every_engine(tmp_path: Path, filler: int):
    """An SDK-like file: the keyword on most lines and credentials among them, one in a curl
    header split over two lines, one in the file's last bytes (no newline after it)."""
    lines = [f"from cloudflare import Cloudflare  # cf_{n}\n" for n in range(60)]
    lines[10] = f'CLOUDFLARE_API_TOKEN = "{LEGACY}"\n'
    lines[30] = "curl https://api.cloudflare.com/client/v4/user/tokens/verify \\\n"
    lines[31] = f'     -H "Authorization: Bearer {LEGACY[::-1]}"\n'
    lines[45] = "x" * filler + f" token={TOKEN}\n"
    f = tmp_path / "sdk.py"
    f.write_text("".join(lines) + f"cf_token: {LEGACY.upper()}")
    results = [
        scan([f], use_rg=True).findings,
        scan([f], engine=Engine(use_hyperscan=True), use_rg=False).findings,
        scan([f], engine=Engine(use_hyperscan=False), use_rg=False).findings,
    ]
    assert results[0] == results[1] == results[2]
    got = [(r["line"], r["column"], r["format"]) for r in results[0]]
    assert got == [
        (11, 25, "legacy_token"),
        (32, 32, "legacy_token"),
        (46, filler + 8, "cfut"),
        (61, 11, "legacy_token"),
    ]


def test_unreadable_file_via_engine_error(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One file fails to open (mode 000 would not stop root, so fail it directly): the scan
    goes on, and says which file it skipped."""
    real_open = os.open

    def flaky(path, *a, **k):
        if os.fsdecode(path).endswith(".env"):
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr("os.open", flaky)
    res = scan([tree], use_rg=False)
    assert res.stats.unreadable == 1
    assert any(".env: cannot read" in w for w in res.stats.warnings)
    assert {f["format"] for f in res.findings} == {"cfut"}


@pytest.mark.parametrize("use_rg", [True, False])
def test_a_symlink_named_on_the_command_line_is_not_followed(tree: Path, use_rg: bool) -> None:
    res = scan([tree / "escape", tree / "src"], use_rg=use_rg)
    assert {Path(f["path"]).name for f in res.findings} == {"deploy.py"}
    assert any("escape: a symlink; not followed" in w for w in res.stats.warnings)


@pytest.mark.parametrize("use_rg", [True, False])
def test_warnings_are_logged_for_a_library_caller_and_printed_once_by_the_cli(
    tree: Path, use_rg: bool, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture
) -> None:
    """``scan`` logs each warning as it is met (logging is imported at the first); the command
    line asks it not to (no handler of its own: logging's last resort would print each a
    second time) and prints them itself, once each."""
    with caplog.at_level("WARNING", logger="cfposture.scan"):
        scan([tree / "escape", tree / "src"], use_rg=use_rg)
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and logged[0].startswith(f"{tree / 'escape'}: a symlink; not followed")
    caplog.clear()
    engine = ["--engine", "rg" if use_rg else "re"]
    assert main(["scan", str(tree / "escape"), str(tree / "src"), *engine, "--quiet"]) == 0
    assert not caplog.records
    err = capfd.readouterr().err
    assert err.count("a symlink; not followed") == 1 and "cfposture: warning:" in err


def test_missing_path_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "Traceback" not in err


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def _init(repo: Path) -> Path:
    """An empty repository on branch main."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    return repo


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Write ``files`` (path → text), commit them all; the new commit's id."""
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def test_gitignore_is_respected_when_asked(tree: Path, capsys: pytest.CaptureFixture) -> None:
    import shutil

    shutil.rmtree(tree / ".git")
    _git(tree, "init", "-q")
    (tree / ".gitignore").write_text(".env\n")
    _, doc = _json(capsys, str(tree), "--gitignore")
    assert ".env" not in {Path(f["path"]).name for f in doc["findings"]}
    _, doc = _json(capsys, str(tree))
    assert ".env" in {Path(f["path"]).name for f in doc["findings"]}


def test_git_history_finds_a_deleted_token_at_the_commit_that_added_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    repo = tmp_path / "hist"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    (repo / "ci.yml").write_text(f"env:\n  CLOUDFLARE_API_TOKEN: {TOKEN}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "add deploy")
    added = _git(repo, "rev-parse", "HEAD")
    (repo / "ci.yml").write_text(f"env:\n  CLOUDFLARE_API_TOKEN: {TOKEN}\n  more: 1\n")
    _git(repo, "commit", "-qam", "edit, token still there (a new blob)")
    (repo / "ci.yml").write_text("env: {}\n")
    _git(repo, "commit", "-qam", "remove the token")
    _git(repo, "checkout", "-qb", "side", added)
    (repo / "old.env").write_text(f"cloudflare_token: {LEGACY}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "on a branch")
    side = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")

    assert scan([repo]).findings == []  # the work tree is clean now
    rc, doc = _json(capsys, str(repo), "--git")
    assert rc == 0
    got = {(f["format"], f["path"], f["line"], f["commit"]) for f in doc["findings"]}
    assert got == {("cfut", "ci.yml", 2, added), ("legacy_token", "old.env", 1, side)}
    assert doc["summary"]["blobs"] >= 5


def test_git_on_a_plain_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["scan", str(tmp_path), "--git"]) == 2
    assert "git" in capsys.readouterr().err


def test_baseline_and_fail_on_found(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = tmp_path / "scan-baseline.json"
    assert main(["scan", str(tree), "--fail-on-found", "--quiet"]) == 1
    capsys.readouterr()
    assert main(["scan", str(tree), "--baseline", str(base), "--update-baseline", "--quiet"]) == 0
    stored = base.read_text()
    assert (
        TOKEN not in stored
        and LEGACY not in stored
        and len(json.loads(stored)["fingerprints"]) == 2
    )
    capsys.readouterr()
    assert main(["scan", str(tree), "--baseline", str(base), "--fail-on-found"]) == 0
    (tree / "new.sh").write_text(f"export CF_API_TOKEN={LEGACY[::-1]}\n")
    capsys.readouterr()
    assert main(["scan", str(tree), "--baseline", str(base), "--fail-on-found"]) == 1
    assert "1 credential(s) found that are not in the baseline" in capsys.readouterr().err
    base.write_text("{not json")
    assert main(["scan", str(tree), "--baseline", str(base)]) == 2


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "sarif"])
def test_outputs_never_hold_a_value(tree: Path, fmt: str, capsys: pytest.CaptureFixture) -> None:
    main(["scan", str(tree), "--format", fmt, "--quiet"])
    out = capsys.readouterr().out
    for v in (TOKEN, LEGACY, LOOKALIKE, BODY):
        assert v not in out
    if fmt == "sarif":
        doc = json.loads(out)
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
        assert len(doc["runs"][0]["results"]) == 3  # lookalikes are not results
    if fmt == "csv":
        assert out.splitlines()[0].startswith("format,status,location")


def test_scan_imports_no_pandas(tree: Path) -> None:
    code = (
        "import sys; from cfposture.cli import main; main(['scan', sys.argv[1], '--quiet']);"
        "heavy = ('pandas', 'pandera', 'plotly', 'papermill', 'ipywidgets');"
        "bad = [m for m in heavy if m in sys.modules];"
        "sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_ripgrep_scan_never_loads_hyperscan(tree: Path) -> None:
    """Hyperscan's import is ~12 ms of a scan's start-up (pre-commit runs one per commit);
    with ripgrep walking and searching, nothing needs it, not even the summary's engine."""
    code = (
        "import sys; from cfposture.cli import main;"
        "rc = main(['scan', sys.argv[1], '--engine', 'rg', '--format', 'json', '--quiet']);"
        "sys.exit(3 if 'hyperscan' in sys.modules else rc)"
    )
    r = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["summary"]["backend"] == "ripgrep"


def test_all_engines_agree(tree: Path) -> None:
    a = scan([tree], engine=Engine(use_hyperscan=True), use_rg=False).findings
    b = scan([tree], engine=Engine(use_hyperscan=False), use_rg=False).findings
    c = scan([tree], use_rg=True).findings
    assert a == b == c and a


def _piped(*args: str, data: bytes) -> subprocess.CompletedProcess[str]:
    """``cfposture scan ARGS`` as a shell pipeline runs it, ``data`` on its standard input."""
    return subprocess.run(
        [sys.executable, "-m", "cfposture.cli", "scan", *args],
        input=data.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=120,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_standard_input_is_scanned_as_a_file_is(tree: Path, engine: str) -> None:
    """``env | cfposture scan -``: a CI system's variables or a secret store's dump, piped in,
    gives the findings the same bytes give in a file (line, column, fingerprint), named
    ``<stdin>``, beside a folder scanned in the same run; no value on any output."""
    data = (tree / "src" / "deploy.py").read_bytes() + (tree / ".env").read_bytes()
    (tree / "piped.txt").write_bytes(data)
    run = _piped("-", str(tree), "--engine", engine, "--format", "json", data=data)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    piped = [f for f in doc["findings"] if f["path"] == "<stdin>"]
    filed = [f for f in doc["findings"] if f["path"] == str(tree / "piped.txt")]
    key = ("format", "status", "line", "column", "fingerprint", "redacted")
    assert [[f[k] for k in key] for f in piped] == [[f[k] for k in key] for f in filed]
    assert [(f["line"], f["format"], f["status"]) for f in piped] == [
        (3, "cfut", "credential"),
        (4, "cfut", "lookalike"),
        (5, "legacy_token", "credential"),
    ]
    assert piped[0]["location"] == "<stdin>:3"
    # the tree's three, the copy's two and standard input's two
    assert doc["summary"]["credentials"] == 3 + 2 + 2
    for v in (TOKEN, LEGACY, LOOKALIKE, BODY):
        assert v not in run.stdout and v not in run.stderr


def test_standard_input_gates_and_its_mistakes_are_clear_errors(tree: Path) -> None:
    found = _piped("-", "--fail-on-found", "--quiet", data=f"CF_API_TOKEN: {LEGACY}\n".encode())
    assert found.returncode == 1
    assert "<stdin>:1  legacy_token" in found.stdout
    assert _piped("-", "--fail-on-found", data=b"nothing here\n").returncode == 0
    binary = _piped("-", data=b"\x89PNG\0\0" + TOKEN.encode())
    assert binary.returncode == 0 and "0 credential(s)" in binary.stdout
    # said once, with the prefix (logging's last resort printed the scanner's warnings again)
    assert binary.stderr.count("<stdin>: binary") == 1
    assert "cfposture: warning: <stdin>: binary" in binary.stderr
    for args, said in (
        (["-", "--git"], "cannot read standard input"),
        (["-", "-"], "standard input (-) can be named once"),
    ):
        run = _piped(*args, data=b"x\n")
        assert run.returncode == 2 and said in run.stderr, run.stderr


@pytest.mark.parametrize(
    "summary, said",
    [
        ({"files": 0, "blobs": 0}, "0 files, "),
        ({"files": 2, "blobs": 0}, "2 files, "),
        ({"files": 0, "blobs": 1}, "1 blob, "),
        ({"files": 0, "blobs": 7}, "7 blobs, "),
    ],
)
def test_the_table_counts_what_was_read(summary: dict, said: str) -> None:
    """Files, or for --git the blobs; a scan that read nothing read no files (it said
    "0 blobs" for an empty folder)."""
    from cfposture.scan.output import as_table

    s = {"credentials": 0, "new": 0, "lookalikes": 0, "bytes": 0, "skipped_binary": 0}
    s |= {"skipped_symlinks": 0, "backend": "re", **summary}
    assert said in as_table([], s)


@pytest.mark.parametrize(
    "pattern, rel, skipped",
    [
        ("node_modules", "node_modules/x/a.js", True),  # a folder name at the top
        ("node_modules", "web/node_modules/x/a.js", True),  # ... or at any depth
        ("node_modules", "node_modules_old/a.js", False),  # the whole name, not a start
        ("*.min.js", "static/app.min.js", True),
        ("*.min.js", "static/app.js", False),
        ("*.min.js", "static/app.min.js.map", False),
        ("Fixtures", "tests/fixtures/a.py", False),  # case-sensitive, as git and ripgrep
        ("tests/fixtures", "tests/fixtures/deep/a.py", True),  # a path: what is under it
        ("tests/fixtures", "src/tests/fixtures/a.py", False),  # ... from the scanned folder
        ("/tests/fixtures/", "tests/fixtures/a.py", True),  # slashes at the ends allowed
        ("*/fixtures", "src/tests/fixtures/a.py", True),  # * also matches /
        ("docs/*.md", "docs/a/b.md", True),
        ("docs/*.md", "docs/a/b.txt", False),
        ("[t]ests", "tests/a.py", True),  # fnmatch's brackets
    ],
)
def test_exclude_patterns(pattern: str, rel: str, skipped: bool) -> None:
    from cfposture.scan.files import Excludes

    assert Excludes((pattern,)).skips(rel) is skipped


def test_only_plain_names_are_left_to_ripgrep() -> None:
    """ripgrep's globs and fnmatch agree on a plain name at any depth; brackets, escapes and
    paths are matched in Python only, so every engine skips exactly the same files."""
    from cfposture.scan.files import Excludes

    globs = Excludes(("node_modules", "*.min.js", "[t]ests", "tests/fixtures", "a\\b")).rg_globs()
    assert globs == ["--glob=!node_modules", "--glob=!*.min.js"]


@pytest.fixture
def excluded_tree(tree: Path) -> Path:
    """The tree plus what teams keep out of a scan: vendored code, fake-token fixtures, a
    minified bundle; each holds a token. One excluded folder sits below another name."""
    for rel in ("node_modules/pkg/index.js", "tests/fixtures/fake.env", "web/app.min.js",
                "web/tests/fixtures/kept.txt", "tests/unit.py"):  # fmt: skip
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(f"x = '{TOKEN}'\n")
    return tree


@pytest.mark.parametrize("engine", ENGINES)
def test_excluded_paths_are_not_scanned_by_any_engine(
    excluded_tree: Path, capsys: pytest.CaptureFixture, engine: str
) -> None:
    args = ["--exclude", "node_modules", "--exclude", "*.min.js", "--exclude", "tests/fixtures"]
    rc, doc = _json(capsys, str(excluded_tree), "--engine", engine, *args)
    assert rc == 0
    got = sorted(f["path"].removeprefix(str(excluded_tree) + "/") for f in doc["findings"])
    assert got == [
        ".env",
        "latin1.txt",
        "src/deploy.py",
        "src/deploy.py",
        "tests/unit.py",
        "web/tests/fixtures/kept.txt",  # tests/fixtures is a path from the scanned folder
    ]
    if engine != "rg":  # ripgrep counts what it searched; these walk and count themselves
        rc, all_files = _json(capsys, str(excluded_tree), "--engine", engine)
        assert all_files["summary"]["files"] - doc["summary"]["files"] == 3
    capsys.readouterr()


@pytest.mark.parametrize("engine", ENGINES)
def test_files_named_as_pre_commit_names_them_are_matched_as_given(
    excluded_tree: Path, capsys: pytest.CaptureFixture, monkeypatch, engine: str
) -> None:
    """pre-commit (or ``git ls-files | xargs``) names the staged files relative to the
    repository: the same patterns leave them out, each said once on standard error."""
    monkeypatch.chdir(excluded_tree)
    named = ["tests/fixtures/fake.env", "web/app.min.js", "tests/unit.py", "src/deploy.py"]
    args = ["--engine", engine, "--exclude", "tests/fixtures", "--exclude", "*.min.js"]
    rc, doc = _json(capsys, *named, *args)
    assert rc == 0
    kept = ["src/deploy.py", "src/deploy.py", "tests/unit.py"]  # a token and a lookalike
    assert [f["path"] for f in doc["findings"]] == kept
    main(["scan", *named, *args])
    err = capsys.readouterr().err
    for skipped in ("tests/fixtures/fake.env", "web/app.min.js"):
        assert err.count(f"{skipped}: matches --exclude; not scanned") == 1


def test_excluded_paths_agree_across_engines_beyond_ripgreps_globs(excluded_tree: Path) -> None:
    """Patterns ripgrep is not given (brackets, paths) are dropped in Python: the same
    findings from every engine."""
    kw = {"exclude": ("[n]ode_modules", "web/*", "*.env")}
    a = scan([excluded_tree], engine=Engine(use_hyperscan=True), use_rg=False, **kw).findings
    b = scan([excluded_tree], engine=Engine(use_hyperscan=False), use_rg=False, **kw).findings
    c = scan([excluded_tree], use_rg=True, **kw).findings
    assert a == b == c
    assert {Path(f["path"]).name for f in a} == {"deploy.py", "latin1.txt", "unit.py"}


def test_git_history_skips_excluded_paths_but_not_a_blob_copied_out_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A fake token committed under tests/fixtures is skipped; the same file copied into src
    later (the same blob) is reported there, at the commit that copied it."""
    repo = _init(tmp_path / "hist")
    env = f"CLOUDFLARE_API_TOKEN={LEGACY}\n"
    fixtures = _commit(repo, {"tests/fixtures/fake.env": env}, "fixtures")
    copied = _commit(repo, {"src/app.env": env}, "copied")

    _, doc = _json(capsys, str(repo), "--git")
    assert [(f["path"], f["commit"]) for f in doc["findings"]] == [
        ("tests/fixtures/fake.env", fixtures)
    ]
    _, doc = _json(capsys, str(repo), "--git", "--exclude", "tests/fixtures")
    assert [(f["path"], f["commit"]) for f in doc["findings"]] == [("src/app.env", copied)]
    _, doc = _json(capsys, str(repo), "--git", "--exclude", "*.env")
    assert doc["findings"] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scan_that_excludes_everything_names_its_engine(
    tree: Path, capsys: pytest.CaptureFixture, engine: str
) -> None:
    rc, doc = _json(capsys, str(tree / ".env"), "--engine", engine, "--exclude", ".env")
    assert rc == 0 and doc["findings"] == [] and doc["summary"]["files"] == 0
    assert doc["summary"]["backend"] == {"rg": "ripgrep"}.get(engine, engine)


def test_an_empty_exclude_pattern_is_a_clear_error(
    tree: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["scan", str(tree), "--exclude", "/"]) == 2
    assert "--exclude '/': give a file or folder name or a pattern" in capsys.readouterr().err


def test_the_pre_commit_hook_fails_a_commit_that_holds_a_credential(tmp_path: Path) -> None:
    """The hook's entry, run as pre-commit runs it: the entry, then the staged file names."""
    import yaml

    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "cfposture-scan" and hook["language"] == "python"
    cmd, *args = hook["entry"].split()
    assert cmd == "cfposture"
    leaked, clean = tmp_path / "deploy.sh", tmp_path / "README.md"
    leaked.write_text(f"export CLOUDFLARE_API_TOKEN={LEGACY}\n")
    clean.write_text(f"a lookalike is no credential: {LOOKALIKE}\n")

    def commit(*files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cfposture.cli", *args, *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    refused = commit(clean, leaked)
    assert refused.returncode == 1
    assert f"{leaked}:1  legacy_token" in refused.stdout
    assert "1 credential(s) found that are not in the baseline" in refused.stderr
    assert LEGACY not in refused.stdout + refused.stderr
    assert commit(clean).returncode == 0


OTHER_LEGACY = "Q2lDwh7sLxV9pe3MEbTj0ruXoY5fA8kGzN1cU4wH"


def test_a_commit_range_reports_only_what_it_introduced(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A pull request's scan (``--commits main..feature``): its own new credential, not the
    base's old one, and not one the base gained later and a merge brought in (a merge commit
    lists its changes against each parent)."""
    repo = _init(tmp_path / "pr")
    _commit(repo, {"old.env": f"CLOUDFLARE_API_TOKEN={LEGACY}\n"}, "base")
    _git(repo, "checkout", "-qb", "feature")
    added = _commit(repo, {"new.py": f'TOKEN = "{TOKEN}"\n'}, "feature")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, {"main.env": f"cloudflare_api_token: {OTHER_LEGACY}\n"}, "main moves on")
    _git(repo, "checkout", "-q", "feature")
    _git(repo, "merge", "-q", "--no-edit", "main")

    rc, doc = _json(capsys, str(repo), "--git", "--commits", "main..feature")
    assert rc == 0
    assert [(f["path"], f["commit"], f["format"]) for f in doc["findings"]] == [
        ("new.py", added, "cfut")
    ]
    _, whole = _json(capsys, str(repo), "--git")
    assert {f["path"] for f in whole["findings"]} == {"old.env", "new.py", "main.env"}
    assert doc["summary"]["blobs"] < whole["summary"]["blobs"]  # the range's blobs only


def test_a_commit_range_reports_a_fixture_copied_out_of_an_excluded_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    repo = _init(tmp_path / "pr")
    env = f"CLOUDFLARE_API_TOKEN={LEGACY}\n"
    _commit(repo, {"tests/fixtures/fake.env": env}, "fixtures")
    _git(repo, "checkout", "-qb", "feature")
    copied = _commit(repo, {"app.env": env}, "copied")  # the same blob
    args = ["--git", "--commits", "main..feature"]
    _, doc = _json(capsys, str(repo), *args)
    assert doc["findings"] == []  # the base holds it already, where a scan reports it
    _, doc = _json(capsys, str(repo), *args, "--exclude", "tests/fixtures")
    assert [(f["path"], f["commit"]) for f in doc["findings"]] == [("app.env", copied)]


@pytest.mark.parametrize(
    "args, said",
    [
        (["--commits", "main..HEAD"], "--commits names commits of a repository's history"),
        (["--git", "--commits=--output=x"], "give a range of commits, not an option"),
        (["--git", "--commits", "nosuchbranch..HEAD"], "names no commit git knows"),
    ],
)
def test_commit_range_mistakes_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], said: str
) -> None:
    repo = _init(tmp_path / "r")
    _commit(repo, {"a.txt": "a\n"}, "a")
    assert main(["scan", str(repo), *args]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


@pytest.mark.parametrize(
    "text, allowed",
    [
        ("KEY = '{v}'  # cfposture:allow (a fixture)", True),
        ("# cfposture:allow\nKEY = '{v}'", False),  # the line before says nothing of this one
        ("KEY = '{v}'\n# cfposture:allow", False),
        ("x = 1  # cfposture:allow\nKEY = '{v}'  # cfposture:allo", False),
        ("/* cfposture:allow */ KEY = '{v}'", True),  # anywhere on its line
        ("KEY = '{v}' " + "x" * 1100 + " cfposture:allow", False),  # beyond ALLOW_REACH
        ("KEY = '{v}' " + "x" * 900 + " cfposture:allow", True),
    ],
)
def test_the_allow_marker_covers_its_own_line_only(text: str, allowed: bool) -> None:
    from cfposture.scan.files import allowed_inline

    buf = ("prefix line\n" + text.format(v=TOKEN) + "\nsuffix line\n").encode()
    start = buf.index(TOKEN.encode())
    bol = buf.rfind(b"\n", 0, start) + 1  # where the engines say its line begins
    assert allowed_inline(buf, start, start + len(TOKEN), bol) is allowed
    head = buf[12:]  # the text's first line is the buffer's first
    assert allowed_inline(head, start - 12, start - 12 + len(TOKEN), bol - 12) is allowed
    # ripgrep's window may begin inside the line (a bol before 0): never a negative index
    window = buf[start - 5 :]
    assert allowed_inline(window, 5, 5 + len(TOKEN), bol - start + 5) is (
        allowed and b"cfposture:allow" in window.split(b"\n")[0]
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_an_allowed_credential_is_reported_but_fails_no_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture, engine: str
) -> None:
    """A fixture's token marked ``cfposture:allow`` stays in every output, marked (SARIF: an
    in-source suppression), and neither counts as new nor fails --fail-on-found; an unmarked
    one on the next line still does. Long lines: every engine looks as far along the line."""
    fixture = tmp_path / "fixture.py"
    pad = "y" * 1000  # within the marker's reach; ripgrep reads a window around the value
    fixture.write_text(
        f'FAKE = "{TOKEN}"  # {pad} cfposture:allow\n'
        f"cloudflare_token = '{LEGACY}'\n"
        f'ALSO = "{TOKEN}"  {pad}{pad} cfposture:allow\n'  # beyond the reach: not allowed
    )
    rc, doc = _json(capsys, str(fixture), "--engine", engine, "--fail-on-found")
    assert rc == 1
    assert [(f["line"], f["allowed"]) for f in doc["findings"]] == [
        (1, True),
        (2, False),
        (3, False),
    ]
    assert (doc["summary"]["new"], doc["summary"]["allowed"]) == (2, 1)
    main(["scan", str(fixture), "--engine", engine, "--format", "sarif", "-o", str(tmp_path / "s")])
    sarif = json.loads((tmp_path / "s").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    suppressed = [r.get("suppressions") for r in sarif["runs"][0]["results"]]
    assert suppressed == [[{"kind": "inSource", "justification": "cfposture:allow"}], None, None]
    capsys.readouterr()

    fixture.write_text(f'FAKE = "{TOKEN}"  # cfposture:allow\n')
    assert main(["scan", str(fixture), "--engine", engine, "--fail-on-found"]) == 0
    out = capsys.readouterr().out
    assert "[allowed inline]" in out and "0 not in the baseline or allowed inline, 1 allowed" in out


def test_the_allow_marker_works_in_git_history(tmp_path: Path, capsys) -> None:
    repo = _init(tmp_path / "r")
    _commit(repo, {"t.py": f'FAKE = "{TOKEN}"  # cfposture:allow\n'}, "fixture")
    assert main(["scan", str(repo), "--git", "--fail-on-found", "--quiet"]) == 0
    assert "[allowed inline]" in capsys.readouterr().out


@pytest.mark.parametrize("use_rg", [True, False])
def test_what_a_scan_holds_never_shows_a_value(tree: Path, use_rg: bool) -> None:
    """The records a scan keeps in memory (each credential and where it was) print without
    the value: a repr in a traceback, a log line or a notebook cell shows none."""
    from cfposture.scan import files, rg

    held: list[files.Located] = []
    runs: list[rg.Run] = []  # decided from ripgrep's lines: values, as there, until recorded
    res = scan([tree], use_rg=use_rg)
    if use_rg:
        rg_binary = rg.rg_binary()
        assert rg_binary

        def each_file(path: str, located: list, whole: list) -> list[files.Located]:
            runs.extend(whole)
            return located

        held = rg.scan_files_rg(rg_binary, [tree], Engine(), files.Stats(), each_file=each_file)
        # deploy.py's token and lookalike, latin1.txt's token, .env's legacy token (assigned
        # on its line): nothing needed a read
        assert len(runs) == 4 and not held
        # in a file with a cfposture:allow marker every credential is judged in the file
        marked = tree / "src" / "marked.py"
        marked.write_text((tree / "src" / "deploy.py").read_text() + "# cfposture:allow\n")
        more = rg.scan_files_rg(rg_binary, [marked], Engine(), files.Stats(), each_file=each_file)
        assert len(more) == 2 and len(runs) == 4
        held += more
    else:
        held = files.scan_files([tree], Engine(), files.Stats())
    assert len(held) + len(runs) == len(res.findings) + (2 if use_rg else 0) >= 3
    shown = " ".join(map(repr, held)) + repr(res.stats) + repr(res)
    assert ".py:3:" in shown and "Hit('cfut'" in shown
    for v in (TOKEN, LEGACY, LOOKALIKE, BODY):
        assert v not in shown


@pytest.mark.parametrize("engine", ["rg", "in-process", "rg, nothing to search"])
def test_on_start_runs_once_as_soon_as_ripgrep_has_started(
    tree: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line imports its writers in ``on_start``, while ripgrep searches: once,
    after the first ripgrep is spawned (a listed tree with a large file runs two), and with
    the other engines, or with nothing left for ripgrep, before the search."""
    from cfposture.scan import rg

    (tree / "src" / "big.txt").write_bytes(b"x = 1\n" * 400_000)  # mapped: a ripgrep of its own
    events: list[str] = []
    real = rg.subprocess.Popen

    def spawn(cmd: list[str], *a: object, **k: object) -> subprocess.Popen[bytes]:
        events.append("ripgrep")
        return real(cmd, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(rg.subprocess, "Popen", spawn)
    paths = [tree / "escape"] if engine == "rg, nothing to search" else [tree]
    res = scan(paths, use_rg=engine != "in-process", on_start=lambda: events.append("start"))
    expected = {
        "rg": ["ripgrep", "start", "ripgrep"],
        "in-process": ["start"],
        "rg, nothing to search": ["start"],
    }
    assert events == expected[engine]
    assert len(res.findings) == (0 if engine == "rg, nothing to search" else 4)


@pytest.mark.parametrize("use_rg", [True, False])
def test_each_findings_fingerprint_is_the_formats_fingerprint_of_its_value(
    tree: Path, use_rg: bool
) -> None:
    """A scan hashes each value itself (sha256 bound once a file); the result must stay
    ``cfposture.formats.fingerprint``, which baselines and ``observed.json`` are keyed by."""
    from cfposture.formats import fingerprint

    res = scan([tree / "src", tree / ".env"], use_rg=use_rg)
    by_value = {fingerprint(v): v for v in (TOKEN, LOOKALIKE, LEGACY)}
    assert sorted(by_value[f["fingerprint"]] for f in res.findings) == sorted(
        [TOKEN, LOOKALIKE, LEGACY]
    )
    assert set(res.values) == {fingerprint(TOKEN), fingerprint(LEGACY)}  # verifiable only
    assert res.values[fingerprint(LEGACY)] == LEGACY.encode()
    again = scan([tree / "src", tree / ".env"], use_rg=use_rg, hold_values=False)
    assert again.findings == res.findings and again.values == {}


@pytest.mark.parametrize("verify", [False, True])
def test_the_scan_command_holds_values_only_to_verify_them(
    tree: Path, verify: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``--verify`` no value outlives its record: the scan is told not to keep any."""
    import cfposture.scan
    import cfposture.scan.verify

    asked: list[bool] = []
    real = cfposture.scan.scan

    def spy(*a, **k):
        asked.append(k["hold_values"])
        return real(*a, **k)

    monkeypatch.setattr(cfposture.scan, "scan", spy)
    monkeypatch.setattr(cfposture.scan.verify, "verify", lambda f, values, **k: len(values))
    extra = ["--verify"] if verify else []
    assert main(["scan", str(tree / ".env"), "--quiet", *extra]) == 0
    assert asked == [verify]


@pytest.mark.parametrize("outcome", ["findings written", "an error"])
def test_the_scan_command_pauses_the_cyclic_collector_and_restores_it(
    tree: Path, outcome: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cfposture scan`` runs with the cyclic collector off, to the output's write (where a
    full pass over the records used to come), and turns it back on however it ends; a caller
    that had it off already keeps it off."""
    import gc

    import cfposture.cli
    import cfposture.scan

    seen: list[bool] = []
    real = cfposture.scan.scan

    def spy(*a: object, **k: object) -> cfposture.scan.ScanResult:
        seen.append(gc.isenabled())
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(cfposture.scan, "scan", spy)
    written: list[bool] = []
    real_write = cfposture.cli._write
    monkeypatch.setattr(
        cfposture.cli, "_write", lambda *a: (written.append(gc.isenabled()), real_write(*a))
    )
    args = [str(tree / "src")] if outcome == "findings written" else [str(tree / "nope")]
    assert gc.isenabled()
    assert main(["scan", *args, "--quiet"]) == (0 if outcome == "findings written" else 2)
    assert seen == [False]
    assert written == ([False] if outcome == "findings written" else [])
    assert gc.isenabled()
    gc.disable()
    try:
        main(["scan", *args, "--quiet"])
        assert not gc.isenabled()
    finally:
        gc.enable()
    capsys.readouterr()


def test_the_console_script_holds_a_scans_findings_until_the_process_ends(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``run`` hands ``main`` a list to hold what the command made, then ends the process
    (exit_fast) with the list still alive: the scan leaves its result there, frozen out of
    the collector's reach, so nothing is freed or walked one object at a time for nothing.
    ``main`` without one keeps nothing."""
    import gc

    import cfposture.cli as cli
    from cfposture.scan import ScanResult

    held: list[object] = []
    assert main(["scan", str(tree / "src"), "--quiet"], hold=held) == 0
    assert len(held) == 1 and isinstance(held[0], ScanResult) and len(held[0].findings) == 2
    assert gc.isenabled() and gc.get_freeze_count() > 0
    gc.unfreeze()
    frozen = gc.get_freeze_count()
    assert main(["scan", str(tree / "src"), "--quiet"]) == 0
    assert gc.get_freeze_count() == frozen == 0

    seen: list[object] = []

    def fake_main(argv: object = None, *, hold: list[object] | None = None) -> int:
        seen.append(hold)
        assert hold is not None
        hold.append("made")
        return 3

    def fake_exit(code: int) -> None:
        seen.append((code, list(seen[0])))  # type: ignore[call-overload]

    monkeypatch.setattr(cli, "main", fake_main)
    monkeypatch.setattr(cli, "exit_fast", fake_exit)
    cli.run()
    assert seen == [["made"], (3, ["made"])]
    capsys.readouterr()


def test_the_summary_counts_each_finding_once_by_what_it_is() -> None:
    """A credential both baselined and allowed inline counts as allowed, not new; lookalikes
    are not credentials."""
    from cfposture.scan import ScanResult
    from cfposture.scan.files import Stats

    def finding(status: str, baselined: bool = False, allowed: bool = False) -> dict:
        return {"status": status, "baselined": baselined, "allowed": allowed}

    findings = [
        finding("credential"),
        finding("credential", baselined=True),
        finding("credential", allowed=True),
        finding("credential", baselined=True, allowed=True),
        finding("lookalike"),
        finding("lookalike", baselined=True),
        {"status": "credential"},  # a record from before the flags: new
    ]
    s = ScanResult(findings, Stats(), "ripgrep").summary()
    assert (s["credentials"], s["new"], s["allowed"], s["lookalikes"]) == (5, 2, 2, 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_odd_names_and_special_files_in_a_tree(tmp_path: Path, engine: str) -> None:
    """A credential in a file whose name holds a line break still gates the scan, and a FIFO
    in the tree is skipped, not waited on, by every engine (in a subprocess, so a hang is a
    timeout, not a stuck suite)."""
    (tmp_path / "deploy\n.env").write_text(f"CLOUDFLARE_API_TOKEN={TOKEN}\n")
    (tmp_path / "plain.txt").write_text("nothing here\n")
    os.mkfifo(tmp_path / "pipe.env")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfposture.cli",
            "scan",
            str(tmp_path),
            "--engine",
            engine,
            "--fail-on-found",
            "--format",
            "json",
        ],
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert [Path(f["path"]).name for f in doc["findings"]] == ["deploy\n.env"]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_special_file_named_on_the_command_line_is_refused(
    tmp_path: Path, engine: str, special: str
) -> None:
    path = tmp_path / "pipe" if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(path)
    run = subprocess.run(
        [sys.executable, "-m", "cfposture.cli", "scan", str(path), "--engine", engine],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "not a regular file or folder" in run.stderr and run.stderr.count("\n") == 1
