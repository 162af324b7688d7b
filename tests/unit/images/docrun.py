"""Helpers of the image tests: a plan from document texts, and a run's step records by name."""

from __future__ import annotations

import textwrap

from paracluster.images.document import load_document_text


def build_steps(steps: str) -> str:
    """A document whose only phase, build, has these steps (YAML list items, written at any indentation)."""
    header = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n"
    return header + textwrap.indent(textwrap.dedent(steps), "      ")


def plan_of(*documents: str, phases=("build",), parameters: dict | None = None, root=None, **extra) -> dict:
    components = [{"name": f"comp{index}", "document": load_document_text(textwrap.dedent(text)).require(),
                   "parameters": parameters or {}} for index, text in enumerate(documents, 1)]
    return {"components": components, "phases": list(phases), "workingDirectory": str(root), **extra}


def steps(progress: dict, document: int = 0) -> dict:
    """Step records by 'phase.step'."""
    return {f"{phase['name']}.{step['name']}": step
            for phase in progress["documents"][document]["phases"] for step in phase["steps"]}
