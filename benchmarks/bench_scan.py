"""Benchmark ``cfposture scan`` against the scanners a user would pick instead, in one run.

A generated corpus of code-like text (files of 4 MB) with planted credentials: valid
``cfut_``/``cfat_``/``cfk_`` tokens, lookalikes with a wrong CRC-32, and legacy tokens next to a
``CLOUDFLARE_API_TOKEN=`` keyword. The page cache is warmed first, and each of cfposture and
ripgrep runs once untimed. Then they take turns for fifteen rounds (``--rounds``), so that
both meet the same moments of a machine whose speed drifts by ±10 % from minute to minute; the
ratio reported is the median of the rounds' ratios. The slow peers run twice.
Each tool's best run is tabulated: wall time, throughput, valid tokens found, lookalikes
reported as secrets, legacy tokens found. ripgrep runs the bare scannable regex: the speed
limit, not a scanner. detect-secrets (no Cloudflare rule, ~0.5 MB/s) runs on 8 MB only.
cfposture runs as installed: its bytecode is compiled first (``compile_bytecode``).

    pip install -e '.[bench]'
    python benchmarks/bench_scan.py                  # 1 GB corpus, all peers: ~3 minutes
    python benchmarks/bench_scan.py --smoke          # 8 MB, only cfposture must be there (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

from _harness import meta

ALNUM = string.ascii_letters + string.digits
FILE_MB = 4
RG_REGEX = r"cf(?:ut|at|k)_[A-Za-z0-9]{40}[a-f0-9]{8}"
ROUNDS = 15  # of cfposture and ripgrep's bare regex, taking turns (7 left the median ±0.03)
PAIRED = ("cfposture", "ripgrep (bare regex)")
WORDS = [
    "def",
    "return",
    "import",
    "self",
    "value",
    "config",
    "request",
    "response",
    "client",
    "server",
    "data",
    "user",
    "account",
    "zone",
    "for",
    "while",
    "if",
    "else",
    "class",
    "function",
    "const",
    "let",
    "var",
    "async",
    "await",
    "yield",
    "lambda",
    "try",
    "except",
]


def _token(rnd: random.Random, prefix: str, valid: bool) -> str:
    body = "".join(rnd.choice(ALNUM) for _ in range(40))
    crc = zlib.crc32(body.encode())
    return f"{prefix}{body}{(crc if valid else crc ^ 0x5A5A5A5A):08x}"


def make_corpus(root: Path, mb: int, seed: int = 7) -> dict[str, set[str]]:
    """Write ``mb`` MB of code-like text; return the planted values by kind."""
    rnd = random.Random(seed)
    pool = []
    for _ in range(20_000):
        ident = "".join(rnd.choice(ALNUM) for _ in range(rnd.randint(4, 24)))
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 10)))
        pool.append(f"{'    ' * rnd.randint(0, 3)}{words}({ident}, {rnd.randint(0, 10**6)})\n")
    planted: dict[str, set[str]] = {"valid": set(), "lookalike": set(), "legacy": set()}
    files = max(1, mb // FILE_MB)
    lines_per_file = FILE_MB * 1_000_000 // 50
    for i in range(files):
        lines = rnd.choices(pool, k=lines_per_file)
        spots = iter(rnd.sample(range(len(lines)), 36))  # distinct: no plant overwrites another
        for _ in range(12):
            prefix = rnd.choice(["cfut_", "cfat_", "cfk_"])
            valid = _token(rnd, prefix, True)
            fake = _token(rnd, prefix, False)
            legacy = "".join(rnd.choice(ALNUM + "_-") for _ in range(40))
            planted["valid"].add(valid)
            planted["lookalike"].add(fake)
            planted["legacy"].add(legacy)
            lines[next(spots)] = f'    api_token = "{valid}"\n'
            lines[next(spots)] = f"    # example: {fake}\n"
            lines[next(spots)] = f"CLOUDFLARE_API_TOKEN={legacy}\n"
        sub = root / f"pkg{i % 16:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"module{i:04d}.py").write_text("".join(lines))
    return planted


def _once(cmd: list[str], out: Path | None = None) -> tuple[float, str]:
    """One timed run: wall seconds, and what the tool wrote (its file, else its stdout)."""
    if out:  # each run writes a new file: rewriting one costs 4-10 ms more on ext4 here
        out.unlink(missing_ok=True)  # (auto_da_alloc flushes it; benchmarks/README)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1, 200):  # 1 and 200: "secrets found" (betterleaks, kingfisher)
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-500:]}")
    return wall, out.read_text() if out else r.stdout


def _run(cmd: list[str], out: Path | None = None) -> tuple[float, str]:
    """The faster of two runs (the slow peers)."""
    (w1, _), (w2, text) = _once(cmd, out), _once(cmd, out)
    return min(w1, w2), text


def _score(found: set[str], planted: dict[str, set[str]]) -> dict[str, int]:
    return {
        "valid_found": len(found & planted["valid"]),
        "lookalikes_reported": len(found & planted["lookalike"]),
        "legacy_found": len(found & planted["legacy"]),
    }


def tools(corpus: Path, work: Path) -> dict[str, tuple[list[str], Path | None, object]]:
    """name → (command, output file or None for stdout, parser of the output into values)."""

    def cfp(text: str) -> set[str]:  # cfposture never prints values: match by fingerprint
        return {
            f["fingerprint"] for f in json.loads(text)["findings"] if f["status"] == "credential"
        }

    def kingfisher(text: str) -> set[str]:
        doc = json.loads(text.splitlines()[0]) if text.strip() else {}  # line 2: a summary
        return {f["finding"]["snippet"] for f in doc.get("findings", [])}

    def betterleaks(text: str) -> set[str]:
        return {f["match"]["value"] for f in json.loads(text or "{}").get("findings") or []}

    def rg(text: str) -> set[str]:
        return set(text.split())

    out = {
        "cfposture": (
            [sys.executable, "-m", "cfposture.cli", "scan", str(corpus), "--format", "json",
             "--quiet", "-o", str(work / "cfp.json")],
            work / "cfp.json",
            cfp,
        ),
        "ripgrep (bare regex)": (
            ["rg", "-o", "-N", "--no-filename", RG_REGEX, str(corpus)], None, rg
        ),
        "kingfisher": (
            ["kingfisher", "scan", str(corpus), "--no-validate", "--format", "json",
             "--no-update-check"],
            None,
            kingfisher,
        ),
        "betterleaks": (
            ["betterleaks", str(corpus), "-o", str(work / "bl.json"), "--no-banner",
             "-l", "error"],
            work / "bl.json",
            betterleaks,
        ),
    }  # fmt: skip
    return {k: v for k, v in out.items() if shutil.which(v[0][0]) or v[0][0] == sys.executable}


def compile_bytecode() -> None:
    """Compile cfposture's modules, as ``pip install`` does for a wheel (even where
    ``PYTHONDONTWRITEBYTECODE`` is set, as on these machines). An editable checkout under that
    setting compiles every module it imports on each run, ~17 ms of a scan's start-up that no
    installed cfposture pays (benchmarks/README, fifteenth session)."""
    import compileall

    import cfposture

    compileall.compile_dir(Path(cfposture.__file__).parent, quiet=1)


def detect_secrets_rate(corpus: Path) -> float | None:
    """MB/s of ``detect-secrets scan`` on two corpus files. It runs in the corpus: started
    inside a git repository (this checkout), detect-secrets skips files git does not track,
    so it scanned nothing and sessions before 2026-11-30 recorded 29–54 MB/s for it."""
    if not shutil.which("detect-secrets"):
        return None
    files = sorted(corpus.rglob("*.py"))[:2]
    t0 = time.perf_counter()
    r = subprocess.run(
        ["detect-secrets", "scan", *(str(f.relative_to(corpus)) for f in files)],
        capture_output=True,
        check=True,
        cwd=corpus,
    )
    wall = time.perf_counter() - t0
    if not json.loads(r.stdout).get("results"):  # it flags the quoted tokens' entropy
        raise SystemExit("detect-secrets reported nothing: it did not scan the corpus")
    return sum(f.stat().st_size for f in files) / 1e6 / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    mb = 8 if args.smoke else args.mb
    # the peers' binaries (the bench extra) sit beside this interpreter, activated or not
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    from cfposture.formats import fingerprint

    compile_bytecode()

    with tempfile.TemporaryDirectory() as tmp:
        corpus, work = Path(tmp) / "corpus", Path(tmp) / "work"
        corpus.mkdir()
        work.mkdir()
        planted = make_corpus(corpus, mb)
        size = sum(f.stat().st_size for f in corpus.rglob("*") if f.is_file())
        for f in corpus.rglob("*.py"):  # warm the page cache
            f.read_bytes()
        results = {}
        runs = tools(corpus, work)
        # cfposture and the bare regex take turns, round after round: both see the same
        # moments of the machine, whose speed drifts by ±10 % from one minute to the next
        paired = [name for name in PAIRED if name in runs]
        walls: dict[str, list[float]] = {name: [] for name in paired}
        texts: dict[str, str] = {}
        for name in paired:  # untimed: each tool's first run also loads it from disk
            _once(*runs[name][:2])
        for _ in range(1 if args.smoke else args.rounds):
            for name in paired:
                wall, texts[name] = _once(*runs[name][:2])
                walls[name].append(wall)
        for name, (cmd, outfile, parse) in runs.items():
            if name in walls:
                wall, text = min(walls[name]), texts[name]
            else:
                wall, text = _run(cmd, outfile)
            found = parse(text)
            if name == "cfposture":
                by_fp = {fingerprint(v): v for kind in planted.values() for v in kind}
                found = {by_fp[f] for f in found if f in by_fp}
            results[name] = {
                "wall_s": wall,
                "mb_per_s": size / 1e6 / wall,
                **_score(found, planted),
                **({"walls_s": walls[name]} if name in walls else {}),
            }
        rate = detect_secrets_rate(corpus) if not args.smoke else None
    n = {k: len(v) for k, v in planted.items()}
    print(f"corpus: {size / 1e6:.0f} MB, planted {n}")
    print("| tool | wall s | MB/s | valid found | lookalikes reported | legacy found |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['wall_s']:.2f} | {r['mb_per_s']:.0f} | {r['valid_found']}/{n['valid']}"
            f" | {r['lookalikes_reported']}/{n['lookalike']} | {r['legacy_found']}/{n['legacy']} |"
        )
    if rate is not None:
        print(f"| detect-secrets (8 MB) | | {rate:.2f} | no Cloudflare rule | | |")
    cfp = results["cfposture"]
    ratios: dict[str, object] = {}
    if "ripgrep (bare regex)" in results:
        rg_walls = results["ripgrep (bare regex)"]["walls_s"]
        each = sorted(r / c for r, c in zip(rg_walls, cfp["walls_s"], strict=True))
        ratios = {
            "ratio_median": statistics.median(each),
            "ratio_rounds": each,
            "ratio_best": results["ripgrep (bare regex)"]["wall_s"] / cfp["wall_s"],
        }
        print(
            f"cfposture throughput = {ratios['ratio_median']:.2f} x ripgrep's, the median of"
            f" {len(each)} interleaved round(s) ({each[0]:.2f}-{each[-1]:.2f}; best against"
            f" best {ratios['ratio_best']:.2f}) (goal >= 0.5)"
        )
    if args.json:
        doc = {**meta(mb=size / 1e6), "planted": n, **results, **ratios}
        args.json.write_text(json.dumps(doc, indent=1))
    ok = cfp["valid_found"] == n["valid"] and cfp["lookalikes_reported"] == 0
    ok = ok and cfp["legacy_found"] == n["legacy"]
    if not ok:
        raise SystemExit("cfposture missed a planted token or reported a lookalike")


if __name__ == "__main__":
    main()
