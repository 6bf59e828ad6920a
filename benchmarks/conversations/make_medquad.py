"""Write medquad-dev.yaml: conversations over medquad-dev made from its own questions.

Each conversation opens with "What is (are) <title> ?" of one document, asks two of its
other question types as a follow-up would ("What causes it?", "How is it treated?"), then
switches to another document (its own opening question) and asks one follow-up there. The
`full` form of a follow-up is medquad's own question for that document and type, its
`resolved` form the follow-up's words with the document's subject written in; gold spans are
that question's. Documents are taken evenly through the file, every other one, so both
halves are covered.

    python benchmarks/conversations/make_medquad.py
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE.parents[2] / "shared" / "benchmarks" / "medquad-dev" / "questions.jsonl"
# medquad question type -> how a person asks it in a conversation, and the same words with
# the subject written in (the turn's `resolved` form; `full` is medquad's own question)
FOLLOW_UPS = {
    "causes": ("What causes it?", "What causes {}?"),
    "symptoms": ("What are the symptoms?", "What are the symptoms of {}?"),
    "treatment": ("How is it treated?", "How is {} treated?"),
    "exams and tests": ("How is it diagnosed?", "How is {} diagnosed?"),
    "prevention": ("How can it be prevented?", "How can {} be prevented?"),
    "outlook": ("What is the outlook?", "What is the outlook for {}?"),
    "susceptibility": ("Who is at risk?", "Who is at risk for {}?"),
    "complications": ("What are the complications?", "What are the complications of {}?"),
}
OPENING = re.compile(r"^What is \(are\) (?P<subject>.+?) \?$")  # medquad's 'information' question
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
            subject = OPENING.match(opening["question"])["subject"]
            for kind in follow:
                ask, resolved = FOLLOW_UPS[kind]
                turns.append(
                    {
                        "ask": ask,
                        "full": kinds[kind][0]["question"],
                        "resolved": resolved.format(subject),
                        "gold": [r["id"] for r in kinds[kind]],
                    }
                )
        lines.append(f"- {json.dumps(turns, ensure_ascii=False)}")
    (HERE / "medquad-dev.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
