"""The SARIF 2.1.0 log both ``findings`` and ``scan`` write: one run, one driver.

Kept apart from ``export`` (which needs pandas) so the scanner can use it without the data
stack."""

from __future__ import annotations

from .__about__ import __version__

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from typing import Any

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def sarif_log(
    driver: str,
    info_uri: str,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": driver,
                "version": __version__,
                "informationUri": info_uri,
                "rules": rules,
            }
        },
        "results": results,
    }
    if properties is not None:
        run["properties"] = properties
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
