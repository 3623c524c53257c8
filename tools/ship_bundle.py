"""Ship a trained bundle inside the package: copy it into ``avseq/bundles/data/NAME`` with its test figures.

Adds what only an evaluation knows to the run's bundle: ``meta.eval`` (the report of ``avseq eval``
on the test split, without its per-clip folder) and ``meta.reproduce`` (the commands that remake
it); sets its name. The weights are copied byte for byte (their SHA-256 is checked), and the
result is loaded by name before the tool returns. Then ``tools/bundle_cards.py NAME`` writes its
model card (figures from ``meta.eval``) and its feature statistics the way every shipped bundle's
are made (add its texts to that tool's ``CARDS`` first).

Run: ``.venv/bin/python tools/ship_bundle.py RUN/best/bundle NAME --eval report.json
--reproduce "avseq train ..." --reproduce "avseq eval ..." [--reproduce "targets: ..."]``
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from avseq.bundles import load
from avseq.bundles.document import DOCUMENT, WEIGHTS, dump_document, read_document
from avseq.bundles.weights import sha256_file
from avseq.io.atomic import write_text_atomic

SHIPPED = Path(__file__).resolve().parents[1] / "avseq" / "bundles" / "data"


def ship(source: Path, name: str, report: dict, reproduce: list[str]) -> Path:
    target = SHIPPED / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    doc = read_document(source)
    shutil.copyfile(source / WEIGHTS, target / WEIGHTS)
    if sha256_file(target / WEIGHTS) != doc["weights"]["sha256"]:
        raise RuntimeError(f"{target / WEIGHTS}: not the bytes {source} records")
    shown = {k: v for k, v in report.items() if k != "per_clip"}
    doc["name"] = name
    doc["meta"] = {**doc.get("meta", {}), "eval": shown, "reproduce": reproduce}
    write_text_atomic(target / DOCUMENT, dump_document(doc))
    (target / DOCUMENT).chmod(0o644)
    load(name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a trained bundle folder (RUN/best/bundle)")
    parser.add_argument("name", help="the name it ships and loads by")
    parser.add_argument("--eval", type=Path, required=True, help="its `avseq eval` report on the test split")
    parser.add_argument("--reproduce", action="append", default=[], help="a command that remakes it (repeat)")
    args = parser.parse_args()
    report = json.loads(args.eval.read_text())
    print(ship(args.source, args.name, report, args.reproduce))


if __name__ == "__main__":
    main()
