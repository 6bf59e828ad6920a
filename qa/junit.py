"""JUnit XML reports, the format CI systems (GitLab, Jenkins, GitHub) show test by test.

Built with xml.etree, which escapes markup; characters that XML 1.0 forbids (most control
characters, lone surrogates, U+FFFE/U+FFFF) are written as "#xNN", as pytest's own report
does, so any question text gives a well-formed file.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class JunitCase:
    """One <testcase>: its suite (the questions file), name, time and failure, if any."""

    suite: str
    name: str
    seconds: float
    failure: str | None = None  # the full explanation; None when the case passed
    message: str = ""  # a one-line summary of the failure


def junit_xml(cases: Sequence[JunitCase], name: str) -> bytes:
    """A JUnit XML document: one <testsuite> per suite, in first-seen order."""
    suites: dict[str, list[JunitCase]] = {}
    for case in cases:
        suites.setdefault(case.suite, []).append(case)
    root = ET.Element("testsuites", _counts(cases), name=_xml_text(name))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for suite, members in suites.items():
        element = ET.SubElement(
            root,
            "testsuite",
            _counts(members),
            name=_xml_text(suite),
            timestamp=stamp,
            hostname=_xml_text(socket.gethostname()),
        )
        for case in members:
            testcase = ET.SubElement(
                element,
                "testcase",
                classname=_xml_text(_classname(suite)),
                name=_xml_text(case.name),
                file=_xml_text(suite),
                time=f"{case.seconds:.3f}",
            )
            if case.failure is not None:
                failure = ET.SubElement(testcase, "failure", message=_xml_text(case.message))
                failure.text = _xml_text(case.failure)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _counts(cases: Sequence[JunitCase]) -> dict[str, str]:
    failures = sum(case.failure is not None for case in cases)
    seconds = sum(case.seconds for case in cases)
    return {
        "tests": str(len(cases)),
        "failures": str(failures),
        "errors": "0",
        "skipped": "0",
        "time": f"{seconds:.3f}",
    }


def _classname(suite: str) -> str:
    """The file path as a dotted class name ("tests/canned/a.yaml" -> "tests.canned.a")."""
    path = Path(suite)
    return ".".join([*path.parent.parts, path.stem]).lstrip("./")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda match: f"#x{ord(match.group()):02X}", text)
