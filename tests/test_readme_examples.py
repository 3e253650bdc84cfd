"""README's examples say what the bundled sample really gives (issue 11)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ccda2fhir
from tests.conftest import SAMPLE_CCD

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_first_commands_summary_line_is_what_it_prints(tmp_path):
    command = re.search(r"pip install \. && (ccda2fhir convert [^\n]*)", README).group(1)
    args = command.split()[1:]
    args[args.index("-o") + 1] = str(tmp_path / "sample-bundle.json")
    r = subprocess.run([sys.executable, "-m", "ccda2fhir", *args], cwd=ROOT, capture_output=True)
    assert r.returncode == 0, r.stderr
    shown = re.search(r"prints one summary line on stderr:\n\n```\n([^\n]*)\n```", README).group(1)
    assert r.stderr.decode().strip() == shown


def test_the_python_examples_summary_is_the_samples():
    shown = re.search(r'print\(report\.summary\(\)\)\s+# "([^"]*)" \(the sample CCD\)', README).group(1)
    _, report = ccda2fhir.convert(SAMPLE_CCD, "patient-123", report=True)
    assert report.summary() == shown


def test_the_sample_bundle_is_not_committed_by_accident():
    assert "sample-bundle.json" in (ROOT / ".gitignore").read_text().split()
