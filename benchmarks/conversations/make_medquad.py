"""Write medquad-dev.yaml: conversations over medquad-dev made from its own questions.

Each conversation opens with "What is (are) <title> ?" of one document, asks two of its
other question types as a follow-up would ("What causes it?", "How is it treated?"), then
switches to another document (its own opening question) and asks one follow-up there. The
`full` form of a follow-up is medquad's own question for that document and type; gold spans
are that question's. Documents are taken evenly through the file, every other one, so both
halves are covered.

    python benchmarks/conversations/make_medquad.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE.parents[2] / "shared" / "benchmarks" / "medquad-dev" / "questions.jsonl"
FOLLOW_UPS = {  # medquad question type -> how a person asks it in a conversation
    "causes": "What causes it?",
    "symptoms": "What are the symptoms?",
    "treatment": "How is it treated?",
    "exams and tests": "How is it diagnosed?",
    "prevention": "How can it be prevented?",
    "outlook": "What is the outlook?",
    "susceptibility": "Who is at risk?",
    "complications": "What are the complications?",
}
CONVERSATIONS = 40


def main() -> None:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    by_document: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_document[row["source"]][row["qtype"]].append(row)
    usable = [
        source
        for source, kinds in sorted(by_document.items())
        if "information" in kinds and sum(k in FOLLOW_UPS for k in kinds) >= 2
    ]
    step = len(usable) / (2 * CONVERSATIONS)
    picked = [usable[int(i * step)] for i in range(2 * CONVERSATIONS)]
    lines = [
        "# Made by make_medquad.py from medquad-dev's own questions: do not edit by hand.",
    ]
    for first, second in zip(picked[::2], picked[1::2], strict=True):
        turns = []
        for position, source in enumerate((first, second)):
            kinds = by_document[source]
            opening = kinds["information"][0]
            turns.append(
                {"ask": opening["question"], "gold": [r["id"] for r in kinds["information"]]}
            )
            if position == 1:
                turns[-1]["switch"] = True
            follow = [k for k in FOLLOW_UPS if k in kinds][: 2 if position == 0 else 1]
            for kind in follow:
                turns.append(
                    {
                        "ask": FOLLOW_UPS[kind],
                        "full": kinds[kind][0]["question"],
                        "gold": [r["id"] for r in kinds[kind]],
                    }
                )
        lines.append(f"- {json.dumps(turns, ensure_ascii=False)}")
    (HERE / "medquad-dev.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
