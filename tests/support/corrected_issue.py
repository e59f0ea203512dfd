"""The newest seed issue and a corrected version of it, for the corrections-in-place tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ORIGINAL = REPO / "seeds" / "2026-05-13.txt"
CHANGED_TITLE = "Grafana’s Pyroscope 2.0 Makes Continuous Profiling Practical at Scale"
REMOVED_TITLE = "A Bartender Pro Review"
ADDED_TITLE = "Kafka Tiered Storage Without Tears"
ADDED = (
    f"{ADDED_TITLE} · Cloudflare Cloudflare moved its Kafka clusters to tiered storage, cutting "
    "broker disk costs by 60% while keeping consumer lag flat during partition rebalances."
)


def corrected_text() -> str:
    """The issue with its signal reworded, one summary extended, one deep dive removed and
    one (by Cloudflare, about Kafka) added."""
    paragraphs = ORIGINAL.read_text(encoding="utf-8").split("\n\n")
    out: list[str] = []
    for paragraph in paragraphs:
        if paragraph.startswith("Databricks achieved a 10x"):
            paragraph = paragraph.replace("a 10x reduction", "a 12x reduction", 1)
        elif paragraph.startswith(CHANGED_TITLE):
            paragraph = paragraph.rstrip() + " Correction: profiles are now sampled every 10 ms."
        elif paragraph.startswith(REMOVED_TITLE):
            continue
        elif paragraph.startswith("Patterns Across Companies"):
            out.append(ADDED)
        out.append(paragraph)
    text = "\n\n".join(out)
    assert text.count(ADDED_TITLE) == 1 and REMOVED_TITLE not in text and "12x" in text
    return text


def write_corrected(folder: Path) -> Path:
    """The corrected issue as a file to ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "2026-05-13.txt"
    path.write_text(corrected_text(), encoding="utf-8")
    return path
