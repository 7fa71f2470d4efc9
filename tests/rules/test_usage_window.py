"""Which audit history a usage judgement stands on: unbroken, and actually read.

Calling a grant unused, or a member inactive, claims that no event in the window used it; that
holds only for spans whose audit logs were read in full. A token that could not read an
account's audit logs, or a history with a hole in it, must not look like a quiet one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pandas as pd
from covering import cover
from orgbuilder import AS_OF, A, event, member
from test_member_oauth_rules import fired

import cfposture
from cfposture.cli import main
from cfposture.rawsnapshot import SnapshotWriter
from cfposture.usage import GAP_TOLERANCE, covered_since, usage_events
from cfposture.window import Window

T = pd.Timestamp("2026-11-25T06:00:00Z")


def span(end_days_ago: float, length_days: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    before = T - pd.Timedelta(days=end_days_ago)
    return before - pd.Timedelta(days=length_days), before


def test_chained_spans_cover_back_to_the_oldest() -> None:
    spans = [span(0, 30), span(30, 30), span(60, 30)]
    assert covered_since(T, spans) == T - pd.Timedelta(days=90)
    # order does not matter, overlaps are fine, and a span inside another adds nothing
    assert covered_since(T, [span(60, 30), span(0, 40), span(10, 5), span(40, 30)]) == T - (
        pd.Timedelta(days=90)
    )


def test_a_hole_cuts_the_history_and_a_small_one_is_bridged() -> None:
    holed = [span(0, 30), span(45, 30)]  # 15 days between them: audit logs keep only 30
    assert covered_since(T, holed) == T - pd.Timedelta(days=30)
    day = [span(0, 30), span(31, 30)]  # a 31-day month between monthly pulls
    assert covered_since(T, day) == T - pd.Timedelta(days=61)
    older_end = T - pd.Timedelta(days=30) - GAP_TOLERANCE - pd.Timedelta(hours=1)
    just_over = [span(0, 30), (T - pd.Timedelta(days=90), older_end)]
    assert covered_since(T, just_over) == T - pd.Timedelta(days=30)


def test_no_cover_when_the_latest_events_were_not_read() -> None:
    assert covered_since(T, [span(10, 30)]) is None  # ended 10 days before the snapshot
    assert covered_since(T, [None, span(0, 30)]) == T - pd.Timedelta(days=30)
    assert covered_since(T, [None]) is None
    assert covered_since(T, []) is None


def test_unreadable_audit_logs_are_not_a_quiet_account(org) -> None:
    members = [member("busy", ["Administrator"]), member("idle", ["Administrator"])]
    events = [event(1, email="busy@example.com")]
    assert fired(org(members=members, events=events), "CFP-M05") == {"idle@example.com"}
    blind = org(members=members, events=events, audit_denied_b=True)
    assert usage_events(blind, 90)[1].covered_since is None
    assert fired(blind, "CFP-M05") == set()
    scores = cfposture.scores(blind)
    assert set(scores["basis"]) == {"static"}


def _pull(
    dest: Path, when: datetime, days: int, events: list[dict], ends_early: timedelta = timedelta(0)
) -> Path:
    before = when - ends_early  # a pull with an earlier --before
    with SnapshotWriter(dest, {"kind": "test"}, when) as w:
        w.audit_window = {
            "since": (before - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "before": before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        w.write("accounts", [{"id": A, "name": "Acme"}])
        w.write("members", [member("idle", ["Administrator"])], account_id=A)
        w.write("audit_logs", events, account_id=A)
        cover(w, [A])
    return dest


def test_a_history_with_a_hole_judges_only_the_part_after_it(tmp_path: Path) -> None:
    now = AS_OF.astimezone(UTC)
    monthly = tmp_path / "monthly"
    _pull(monthly / "1", now - timedelta(days=61), 30, [])
    _pull(monthly / "2", now - timedelta(days=30), 30, [])
    _pull(monthly / "3", now, 30, [])
    snap = cfposture.load(monthly)
    assert usage_events(snap, 90)[1].covered_since == pd.Timestamp(now - timedelta(days=91))
    assert fired(snap, "CFP-M05") == {"idle@example.com"}

    sparse = tmp_path / "sparse"  # pulls 45 days apart: 15 days of audit logs never read
    _pull(sparse / "1", now - timedelta(days=90), 30, [])
    _pull(sparse / "2", now - timedelta(days=45), 30, [])
    _pull(sparse / "3", now, 30, [])
    snap = cfposture.load(sparse)
    assert usage_events(snap, 90)[1].covered_since == pd.Timestamp(now - timedelta(days=30))
    assert fired(snap, "CFP-M05") == set()


def test_usage_is_judged_up_to_where_the_audit_logs_end(tmp_path: Path) -> None:
    now = AS_OF.astimezone(UTC)
    snap = cfposture.load(_pull(tmp_path / "early", now, 120, [], ends_early=timedelta(days=5)))
    window = usage_events(snap, 90)[1]
    assert window.as_of == pd.Timestamp(now - timedelta(days=5))
    assert window.sufficient and window.covered_days == 90
    assert fired(snap, "CFP-M05") == {"idle@example.com"}


# --- saying so: every usage-based output states the window it judged on, or why it did not ---

SAMPLE = Path(cfposture.__file__).parent.parent / "data" / "sample"
SARIF_SCHEMA = json.loads(
    (Path(__file__).parent.parent / "data" / "sarif-2.1.0-rtm.5.json").read_text()
)


def test_the_window_says_what_it_judged_on_or_why_not() -> None:
    judged = Window(T, 90, T - pd.Timedelta(days=120))
    assert judged.sufficient
    assert judged.sentence() == (
        "Usage judged on 90 days of audit logs, 2026-08-27 to 2026-11-25. Audit logs record"
        " writes only: read permissions are not observable, so they are kept and never called"
        " unused."
    )
    assert judged.to_dict()["covered_days"] == 90 and judged.to_dict()["judged"] is True

    short = Window(T, 90, T - pd.Timedelta(days=30))
    assert not short.sufficient
    text = short.sentence()
    assert text.startswith("Not yet enough history for CFP-T07, CFP-M04, CFP-M05 and CFP-O01:")
    assert "30 of the 90 days asked (since 2026-10-26)" in text
    assert "--since-last" in text and "import-audit" in text
    assert short.to_dict() == {
        "judged": False,
        "rules": ["CFP-T07", "CFP-M04", "CFP-M05", "CFP-O01"],
        "asked_days": 90,
        "covered_days": 30,
        "covered_since": "2026-10-26T06:00:00+00:00",
        "ends": "2026-11-25T06:00:00+00:00",
        "audit_logs_denied": False,
    }
    denied = Window(T, 90, None, denied=True)
    assert "Account Settings Read" in denied.sentence()
    assert "no audit logs were read" in Window(T, 90, None).sentence()


def test_a_denied_pull_says_so(org) -> None:
    blind = org(members=[member("idle", ["Administrator"])], audit_denied_b=True)
    window = usage_events(blind, 90)[1]
    assert window.denied and "Account Settings Read" in window.sentence()


def test_findings_say_when_the_history_is_too_short(capsys) -> None:
    young = str(SAMPLE / "2026-07-25")  # the sample's second month: 60 of 90 days
    assert main(["findings", young, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("cfposture: note: Not yet enough history") and "60 of the 90" in err
    window = json.loads(out)["usage_window"]
    assert (window["judged"], window["covered_days"]) == (False, 60)

    assert main(["findings", young, "--format", "sarif"]) == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    (note,) = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and "60 of the 90 days" in note["message"]["text"]

    assert main(["findings", young, "--rules", "CFP-T01"]) == 0  # no usage rule asked: no note
    assert "Not yet enough history" not in capsys.readouterr().err
    assert main(["findings", young, "--usage-days", "30"]) == 0  # 30 days asked, 60 held
    assert "Not yet enough history" not in capsys.readouterr().err
    assert main(["scores", young]) == 0
    assert "Not yet enough history" in capsys.readouterr().err


def test_findings_on_a_covered_window_state_it_and_raise_no_notification(capsys) -> None:
    assert main(["findings", "--format", "sarif"]) == 0
    out, err = capsys.readouterr()
    assert "note:" not in err
    run = json.loads(out)["runs"][0]
    assert run["invocations"][0]["toolExecutionNotifications"] == []
    assert run["properties"]["usage_window"]["judged"] is True


def test_the_checklist_trend_shades_snapshots_the_usage_rules_did_not_judge() -> None:
    import cfposture.notebook as nb
    import cfposture.plots as plots

    per = nb.checklist_per_snapshot(nb.setup())
    judged = per.groupby("snapshot")["usage_judged"].all()
    # the sample's first two months hold 30 and 60 days of audit logs: too few for 90
    assert judged.tolist() == [False, False, True, True, True, True]
    (shade,) = plots.checklist_trend(per).layout.shapes
    assert (pd.Timestamp(shade.x0), pd.Timestamp(shade.x1)) == (judged.index[0], judged.index[2])
    all_judged = per.assign(usage_judged=True)
    assert plots.checklist_trend(all_judged).layout.shapes == ()
