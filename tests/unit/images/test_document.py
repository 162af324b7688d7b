"""The component document loader: golden problem lists for broken documents, and the JSON of good ones.

Each tests/golden/images/documents/<case>.yaml is loaded and its problems (level, YAML path, line, message) are
compared with <case>.problems. To accept a deliberate change of the messages, run the tests with UPDATE_GOLDEN=1:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/images/test_document.py
"""

from __future__ import annotations

import os
import textwrap

import pytest

from support import PROJECT
from paracluster.images.document import DocumentError, component_type, format_problem, load_document_text

GOLDEN = PROJECT / "tests" / "golden" / "images" / "documents"
CASES = sorted(path.stem for path in GOLDEN.glob("*.yaml"))


def problem_lines(case: str) -> str:
    loaded = load_document_text((GOLDEN / f"{case}.yaml").read_text(), f"{case}.yaml")
    assert loaded.document is None, f"{case}.yaml should not load"
    return "".join(f"{problem.level} {format_problem(problem)}\n" for problem in loaded.problems)


@pytest.mark.parametrize("case", CASES)
def test_golden_problems(case):
    text = problem_lines(case)
    expected = GOLDEN / f"{case}.problems"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.write_text(text)
    assert text == expected.read_text(), f"{case}.problems differs (UPDATE_GOLDEN=1 rewrites)"


def test_golden_cases_cover_every_kind_of_problem():
    assert {"yaml-syntax", "empty", "not-a-mapping", "top-level", "phases", "steps", "inputs", "references",
            "variables", "loops", "assert"} <= set(CASES)


def load(text: str):
    return load_document_text(textwrap.dedent(text), "doc.yaml")


GOOD = """\
    name: Good
    description: installs a tool
    schemaVersion: 1.0
    parameters:
      - Version:
          type: string
          default: 1.2
    constants:
      - Mode:
          type: string
          value: 0755
    phases:
      - name: build
        steps:
          - name: Fetch
            action: S3Download
            maxAttempts: 3
            inputs:
              - source: s3://tools/tool-{{ Version }}.tgz
                destination: /tmp/tool.tgz
          - name: Install
            action: ExecuteBash
            onFailure: Continue
            timeoutSeconds: -1
            loop:
              name: Pass
              forEach:
                list: "a,b"
            inputs:
              commands:
                - tar -xzf "{{ build.Fetch.inputs[0].destination }}" -C /opt "{{ Pass.value }}"
          - name: Perms
            action: SetFilePermissions
            inputs:
              - path: /opt/tool
                permissions: 0755
          - name: Restart
            action: Reboot
      - name: test
        steps:
          - name: Check
            action: Assert
            inputs:
              and:
                - fileExists: /opt/tool
                - semVerGreaterThanEquals: 1.0.0
                  value: "{{ Version }}"
"""


def test_good_document_is_the_runners_json_with_awstoe_defaults():
    loaded = load(GOOD)
    assert loaded.errors == [] and loaded.warnings == []
    document = loaded.require()
    assert document["schemaVersion"] == "1.0"
    # Numbers where strings are wanted keep their text, as Go reads them: 0755 is not the YAML 1.1 octal 493.
    assert document["parameters"] == [{"name": "Version", "type": "string", "default": "1.2"}]
    assert document["constants"] == [{"name": "Mode", "type": "string", "value": "0755"}]
    build, test = document["phases"]
    fetch, install, perms, restart = build["steps"]
    assert fetch == {"name": "Fetch", "action": "S3Download", "onFailure": "Abort", "maxAttempts": 3,
                     "timeoutSeconds": 7200, "loop": None,
                     "inputs": [{"source": "s3://tools/tool-{{ Version }}.tgz", "destination": "/tmp/tool.tgz"}]}
    assert install["onFailure"] == "Continue" and install["timeoutSeconds"] == -1
    assert install["loop"] == {"name": "Pass", "forEach": {"list": "a,b", "delimiter": ","}}
    assert perms["inputs"] == [{"path": "/opt/tool", "permissions": "0755"}]
    assert restart == {"name": "Restart", "action": "Reboot", "inputs": {}, "onFailure": "Abort", "maxAttempts": 1,
                       "timeoutSeconds": -1, "loop": None}
    assert test["steps"][0]["inputs"]["and"][1] == {"semVerGreaterThanEquals": "1.0.0", "value": "{{ Version }}"}
    assert component_type(document) == "BUILD"


def test_a_test_only_document_is_a_test_component():
    document = load("""\
        schemaVersion: 1.0
        phases:
          - name: test
            steps:
              - name: Check
                action: ExecuteBash
                inputs:
                  commands: [true]
    """).require()
    assert component_type(document) == "TEST"
    assert document["phases"][0]["steps"][0]["inputs"] == {"commands": ["true"]}  # a YAML boolean's text


def test_require_raises_one_error_listing_every_problem():
    loaded = load("""\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: A
                action: Nope
              - name: A
                action: ExecuteBash
    """)
    with pytest.raises(DocumentError) as raised:
        loaded.require()
    body = raised.value.body()
    assert body["message"] == "Invalid component document doc.yaml."
    assert [item["message"] for item in body["documentValidationErrors"]] == [
        "phases[0]/steps[0]/action (line 6): 'Nope' is not an action module AWSTOE knows",
        "phases[0]/steps[1]/name (line 7): step 'A' is already defined at phases[0]/steps[0]; step names must be "
        "unique within a phase",
        "phases[0]/steps[1]/inputs (line 7): is required: ExecuteBash needs inputs",
    ]
    assert str(raised.value).startswith("Invalid component document doc.yaml (3 problems); fix: phases[0]/steps[0]")


def test_warnings_do_not_stop_a_document():
    loaded = load("""\
        schemaVersion: 1.0
        phases:
          - name: build
            steps:
              - name: Render
                action: CreateFile
                inputs:
                  - path: /etc/motd
                    content: "{{ Owner }} runs {{ loop.index }}"
    """)
    assert loaded.errors == []
    assert loaded.warnings == [
        "phases[0]/steps[0]/inputs[0]/content (line 9): {{ Owner }} names no parameter or constant of this document; "
        "it is left as written",
        "phases[0]/steps[0]/inputs[0]/content (line 9): {{ loop.index }} is left as written: this step has no loop",
    ]
    assert loaded.require()["phases"][0]["steps"][0]["inputs"][0]["content"] == "{{ Owner }} runs {{ loop.index }}"
