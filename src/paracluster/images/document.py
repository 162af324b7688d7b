"""Load AWSTOE component documents strictly: every problem at once with its YAML path and line, then plain JSON.

A document is `name`, `description`, `schemaVersion` (1.0), `parameters` and `constants` (lists of one-key mappings),
and `phases` whose `steps` name an action module with its `inputs`, `onFailure`, `maxAttempts`, `timeoutSeconds` and
an optional `loop`. Unknown actions and inputs an action does not take are errors before anything runs; so are chained
references to steps that do not exist or have not run yet. The result is the JSON the node-side runner takes
(`paracluster.images.runner`), with AWSTOE's defaults filled in.
"""

from __future__ import annotations

from pathlib import Path

from paracluster.config.schema.types import Int, ListOf, Raw, Section
from paracluster.config.schema.walk import Problem, Walker, describe, join_path, key_line
from paracluster.config.yamlfile import parse_yaml
from paracluster.errors import ConfigError, ConfigFileError
from paracluster.images import conditions, templating
from paracluster.images.inputs import ACTIONS, INPUTS, NOT_OFFERED, OPTIONAL_INPUTS, OUTPUTS, Text

PHASES = ("build", "validate", "test")  # what Image Builder runs: build and validate on the build instance, then test
DEFAULT_TIMEOUT = 7200
LOOP_DELIMITERS = ".,;:\n\t -_"
_NAME_HELP = "use letters, digits, hyphens and underscores"


def _name(minimum: int = 1):
    def check(value: str) -> str | None:
        if templating.NAME.match(value) and len(value) >= minimum and len(value) <= 128:
            return None
        size = f" ({minimum} to 128 characters)" if minimum > 1 else ""
        return f"'{value}' is not a valid name; {_NAME_HELP}{size}"

    return check


def _schema_version(value: str) -> str | None:
    if value in ("1.0", "1"):
        return None
    return f"'{value}' is not a schema version AWSTOE knows; write schemaVersion: 1.0"


def _timeout(value: int) -> str | None:
    if value == -1 or value > 0:
        return None
    return f"{value} is not allowed; use a number of seconds above 0, or -1 for none"


def _one_loop_kind(loop: dict):
    kinds = [key for key in ("for", "forEach") if key in loop]
    if len(kinds) != 1:
        yield "needs exactly one of 'for' and 'forEach'"


def _finite(loop: dict):
    start, end, step = loop["start"], loop["end"], loop["updateBy"]
    if step == 0:
        yield "updateBy", "must not be 0 (the loop would never end)"
    elif (end - start) * step < 0:
        yield "updateBy", f"{step} never takes {start} to {end}; the loop would never end"


_DOC_HINT = "remove it (a component document has name, description, schemaVersion, parameters, constants, phases)"
PARAMETER = Section("parameter", {"type": Text(required=True, choices=("string",)), "default": Text(),
                                  "description": Text()}, unknown_hint="remove it (parameters have type, default, "
                                                                       "description)")
CONSTANT = Section("constant", {"type": Text(required=True, choices=("string",)), "value": Text(required=True)},
                   unknown_hint="remove it (constants have type and value)")
FOR = Section("for loop", {"start": Int(required=True), "end": Int(required=True), "updateBy": Int(required=True)},
              checks=[_finite], unknown_hint="remove it (a for loop has start, end and updateBy)")
FOR_EACH = Section("forEach", {"list": Text(required=True), "delimiter": Text()},
                   unknown_hint="remove it (a delimited forEach has list and delimiter)")
LOOP = Section("loop", {"name": Text(checks=[_name()]), "for": FOR, "forEach": Raw()}, checks=[_one_loop_kind],
               unknown_hint="remove it (a loop has name and one of for, forEach)")
STEP = Section("step", {
    "name": Text(required=True, checks=[_name()]),
    "action": Text(required=True),
    "inputs": Raw(),
    "onFailure": Text(choices=("Abort", "Continue", "Ignore")),
    "maxAttempts": Int(minimum=1),
    "timeoutSeconds": Int(checks=[_timeout]),
    "loop": LOOP,
    "if": Raw(),
}, unknown_hint="remove it (a step has name, action, inputs, onFailure, maxAttempts, timeoutSeconds, loop)")
PHASE = Section("phase", {"name": Text(required=True, checks=[_name()]),
                          "steps": ListOf(STEP, required=True, min_len=1)},
                unknown_hint="remove it (a phase has name and steps)")
DOCUMENT = Section("component document", {
    "name": Text(),
    "description": Text(),
    "schemaVersion": Text(required=True, checks=[_schema_version]),
    "parameters": ListOf(Raw()),  # lists of one-key mappings: checked item by item by _Checker._variables
    "constants": ListOf(Raw()),
    "phases": ListOf(PHASE, required=True, min_len=1),
}, unknown_hint=_DOC_HINT)


class DocumentError(ConfigError):
    """A component document that cannot be used; the body lists every problem, as invalid configs do."""

    def __init__(self, problems: list[str], source: str):
        count = f"{len(problems)} problems" if len(problems) > 1 else "1 problem"
        super().__init__(f"Invalid component document {source} ({count}); fix: {problems[0]}"
                         + (" ..." if problems[1:] else ""))
        self.problems, self.source = problems, source

    def body(self) -> dict:
        return {"message": f"Invalid component document {self.source}.",
                "documentValidationErrors": [{"level": "ERROR", "message": problem} for problem in self.problems]}


class LoadedDocument:
    """The loader's answer: `document` (the runner's JSON) is None when any ERROR problem was found."""

    def __init__(self, document: dict | None, problems: list[Problem], source: str):
        self.document, self.problems, self.source = document, problems, source

    @property
    def errors(self) -> list[str]:
        return [format_problem(problem) for problem in self.problems if problem.level == "ERROR"]

    @property
    def warnings(self) -> list[str]:
        return [format_problem(problem) for problem in self.problems if problem.level != "ERROR"]

    def require(self) -> dict:
        """The document, or DocumentError listing every error."""
        if self.document is None:
            raise DocumentError(self.errors, self.source)
        return self.document


def format_problem(problem: Problem) -> str:
    """`phases[0]/steps[1]/action (line 9): ...`; problems of the whole file name the file themselves."""
    if not problem.path:
        return problem.message
    return f"{problem.path} (line {problem.line}): {problem.message}" if problem.line else str(problem)


def load_document_file(path: str | Path) -> LoadedDocument:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"failed to read component document {path}: {err}") from None
    return load_document_text(text, str(path))


def load_document_text(text: str, source: str = "<document>") -> LoadedDocument:
    """Parse and check a component document; a YAML syntax error is one problem like the others."""
    try:
        data = parse_yaml(text, source, keep_number_text=True)
    except ConfigFileError as err:
        return LoadedDocument(None, [Problem("", None, str(err))], source)
    return check_document(data, source)


def check_document(data: object, source: str = "<document>") -> LoadedDocument:
    walker = Walker()
    if not isinstance(data, dict):
        what = "is empty" if data is None else f"holds {describe(data)}"
        walker.error("", None, f"{source} {what}; a component document is a mapping with schemaVersion and phases")
        return LoadedDocument(None, walker.problems, source)
    ok = walker.check_section(DOCUMENT, data, "", None)
    checker = _Checker(walker, data)
    checker.run()
    valid = ok and not any(problem.level == "ERROR" for problem in walker.problems)
    problems = sorted(walker.problems, key=lambda problem: problem.line or 0)  # in file order (sorted is stable)
    return LoadedDocument(_normalize(data) if valid else None, problems, source)


class _Checker:
    """The checks a key tree cannot express: names, per-action inputs, loops and `{{ }}` references."""

    def __init__(self, walker: Walker, data: dict):
        self.walker, self.data = walker, data
        self.variables: set[str] = set()
        self.steps: dict[str, tuple[int, int, str]] = {}  # "phase.step" -> (phase index, step index, action)

    def run(self) -> None:
        self._variables("parameters", PARAMETER)
        self._variables("constants", CONSTANT)
        phases = [(i, phase) for i, phase in enumerate(_list(self.data.get("phases"))) if isinstance(phase, dict)]
        self._phase_names(phases)
        for index, phase in phases:
            self._index_steps(index, phase)
        for index, phase in phases:
            self._check_phase(index, phase)

    def _variables(self, key: str, spec: Section) -> None:
        items = self.data.get(key)
        for index, item in enumerate(_list(items)):
            path, line = f"{key}[{index}]", key_line(items, index, None)
            if not isinstance(item, dict) or len(item) != 1:
                self.walker.error(path, line, f"must be a mapping of one name to its settings, such as "
                                              f"'- MyName: {{type: string, ...}}'")
                continue
            name, settings = next(iter(item.items()))
            name_path = join_path(path, name)
            if not isinstance(name, str) or _name(3)(name):
                self.walker.error(name_path, line, f"'{name}' is not a valid name; {_NAME_HELP} (3 to 128 characters)")
            elif name in self.variables:
                self.walker.error(name_path, line, f"'{name}' is already a parameter or constant; names must be unique")
            else:
                self.variables.add(name)
            self.walker.check_value(spec, settings, name_path, line)

    def _phase_names(self, phases: list[tuple[int, dict]]) -> None:
        seen = {}
        for index, phase in phases:
            name = phase.get("name")
            if not isinstance(name, str):
                continue
            line = key_line(phase, "name", None)
            if name in seen:
                self.walker.error(f"phases[{index}]/name", line, f"phase '{name}' is already defined at "
                                                                 f"phases[{seen[name]}]; phase names must be unique")
            elif name not in PHASES and templating.NAME.match(name):
                self.walker.warn(f"phases[{index}]/name", line, f"Image Builder runs only the build, validate and "
                                                                f"test phases; phase '{name}' never runs there")
            seen.setdefault(name, index)
        if phases and not set(seen) & set(PHASES):
            self.walker.error("phases", key_line(self.data, "phases", None),
                              "needs at least one of the phases build, validate and test")

    def _index_steps(self, phase_index: int, phase: dict) -> None:
        for step_index, step in enumerate(_list(phase.get("steps"))):
            if isinstance(step, dict) and isinstance(step.get("name"), str):
                key = f"{phase.get('name')}.{step['name']}"
                self.steps.setdefault(key, (phase_index, step_index, step.get("action")))

    def _check_phase(self, phase_index: int, phase: dict) -> None:
        steps = phase.get("steps")
        names: dict[str, int] = {}
        loops: dict[str, int] = {}
        for step_index, step in enumerate(_list(steps)):
            if not isinstance(step, dict):
                continue
            path = f"phases[{phase_index}]/steps[{step_index}]"
            line = key_line(steps, step_index, None)
            self._unique(names, "step", step.get("name"), f"{path}/name", key_line(step, "name", line), phase_index,
                         step_index)
            loop = step.get("loop") if isinstance(step.get("loop"), dict) else None
            if loop is not None:
                self._unique(loops, "loop", loop.get("name"), f"{path}/loop/name", key_line(loop, "name", line),
                             phase_index, step_index)
            where = (phase_index, step_index, phase.get("name"))
            if loop is not None and "forEach" in loop:
                self._check_for_each(loop, f"{path}/loop/forEach", key_line(loop, "forEach", line), where)
            if "if" in step:
                self.walker.error(f"{path}/if", key_line(step, "if", line),
                                  "conditional steps are not supported by ParaCluster yet; remove 'if' and test the "
                                  "condition in the step (an Assert step, or a test in ExecuteBash)")
            self._check_action(step, path, line, where, loop)

    def _unique(self, seen: dict, kind: str, name: object, path: str, line: int | None, phase_index: int,
                step_index: int) -> None:
        """Step names and loop names are unique within a phase."""
        if not isinstance(name, str):
            return
        if name in seen:
            self.walker.error(path, line, f"{kind} '{name}' is already defined at phases[{phase_index}]/steps"
                                          f"[{seen[name]}]; {kind} names must be unique within a phase")
        seen.setdefault(name, step_index)

    def _check_for_each(self, loop: dict, path: str, line: int | None, where: tuple) -> None:
        value = loop["forEach"]
        if isinstance(value, dict):
            if self.walker.check_section(FOR_EACH, value, path, line):
                delimiter = value.get("delimiter", ",")
                if len(delimiter) != 1 or delimiter not in LOOP_DELIMITERS:
                    self.walker.error(f"{path}/delimiter", key_line(value, "delimiter", line),
                                      f"{delimiter!r} is not allowed; use one character of {LOOP_DELIMITERS!r}")
        elif isinstance(value, list):
            valid, _ = self.walker.check_value(ListOf(Text(), min_len=1), value, path, line)
            if not valid:
                return
        else:
            self.walker.error(path, line, f"must be a list of values or a mapping with list and delimiter, not "
                                          f"{describe(value)}")
            return
        self._check_references(value, path, line, where, loop=None)

    def _check_action(self, step: dict, path: str, line: int | None, where: tuple, loop: dict | None) -> None:
        action = step.get("action")
        if not isinstance(action, str):
            return
        action_line = key_line(step, "action", line)
        if action not in ACTIONS:
            self.walker.error(f"{path}/action", action_line, _unknown_action(action))
            return
        if action == "Reboot" and "timeoutSeconds" in step:
            self.walker.warn(f"{path}/timeoutSeconds", key_line(step, "timeoutSeconds", line),
                             "is ignored: a Reboot step has no timeout")
        inputs_path, inputs_line = f"{path}/inputs", key_line(step, "inputs", line)
        if "inputs" not in step:
            if action not in OPTIONAL_INPUTS:
                self.walker.error(inputs_path, line, f"is required: {action} needs inputs")
            return
        value = step["inputs"]
        if action == "Assert":
            check_expression(self.walker, value, inputs_path, inputs_line)
        else:
            spec = INPUTS[action]
            if isinstance(spec, ListOf) and isinstance(value, dict):
                self.walker.error(inputs_path, inputs_line, f"must be a list: {action} takes a list of operations, "
                                                            f"each written as a list item ('- path: ...')")
                return
            if isinstance(spec, Section) and isinstance(value, list):
                self.walker.error(inputs_path, inputs_line, f"must be a mapping: {action} takes its inputs as keys "
                                                            f"of one mapping, not a list")
                return
            valid, value = self.walker.check_value(spec, value, inputs_path, inputs_line)
            if not valid:
                return
            step["inputs"] = value
        self._check_references(step["inputs"], inputs_path, inputs_line, where, loop)

    def _check_references(self, value: object, path: str, line: int | None, where: tuple, loop: dict | None) -> None:
        for text, text_path, text_line in _strings(value, path, line):
            for expression in dict.fromkeys(templating.expressions(text)):  # each distinct expression once
                message, level = self._reference_problem(expression, where, loop)
                if message:
                    problem = self.walker.error if level == "ERROR" else self.walker.warn
                    problem(text_path, text_line, f"{{{{ {expression} }}}} {message}")

    def _reference_problem(self, expression: str, where: tuple, loop: dict | None) -> tuple[str | None, str]:
        phase_index, step_index, phase_name = where
        chain = templating.CHAIN.match(expression)
        if chain:
            key = f"{chain['phase']}.{chain['step']}"
            if key not in self.steps:
                return f"refers to step '{key}', which the document does not define", "ERROR"
            ref_phase, ref_step, action = self.steps[key]
            if (ref_phase, ref_step) == (phase_index, step_index):
                return f"refers to this step itself ('{key}'); use an earlier step's inputs or outputs", "ERROR"
            if (ref_phase, ref_step) > (phase_index, step_index):
                return f"refers to step '{key}', which has not run yet at this step", "ERROR"
            if phase_name == "test" and chain["phase"] in ("build", "validate"):
                return ("crosses from the build stage to the test stage, which Image Builder runs on a new instance; "
                        "pass the value as a parameter instead"), "ERROR"
            if chain["kind"] == "outputs":
                names = OUTPUTS.get(action, ())
                if not names:
                    return f"refers to outputs of '{key}', but {action} has none", "ERROR"
                if chain["var"] not in names or (chain["index"] or "0") != "0":
                    message = f"names an output that '{key}' ({action}) does not give; it gives outputs.{names[0]}"
                    return message, "ERROR"
            return None, ""
        loop_ref = templating.LOOP.match(expression)
        if loop_ref:
            if loop is None:
                return "is left as written: this step has no loop", "WARNING"
            if loop_ref["loop"] not in ("loop", loop.get("name")):
                return f"names no loop of this step (use loop.{loop_ref['member']}); it is left as written", "WARNING"
            return None, ""
        if templating.NAME.match(expression) and expression not in self.variables:
            return "names no parameter or constant of this document; it is left as written", "WARNING"
        return None, ""


def check_expression(walker: Walker, value: object, path: str, line: int | None) -> bool:
    """Check an Assert expression: one comparison or logical operator with the operands it needs."""
    if not isinstance(value, dict):
        walker.error(path, line, f"must be a mapping holding one comparison such as 'stringEquals: ...' with "
                                 f"'value: ...', not {describe(value)}")
        return False
    names = [key for key in value if key in conditions.OPERATORS]
    if len(names) != 1:
        found = "none" if not names else ", ".join(names)
        others = [key for key in value if key not in ("value", "path") and key not in conditions.OPERATORS]
        hint = f" ('{others[0]}' is not one{_close(others[0], conditions.OPERATORS)})" if others and not names else ""
        walker.error(path, line, f"needs exactly one comparison or logical operator, found {found}{hint}")
        return False
    name = names[0]
    operand_path, operand_line = join_path(path, name), key_line(value, name, line)
    allowed = {name, conditions.OPERAND.get(name)} - {None}
    ok = True
    for key in value:
        if key not in allowed:
            walker.error(join_path(path, key), key_line(value, key, line), f"does not belong to {name}; remove it")
            ok = False
    if name in ("and", "or"):
        items = value[name]
        if not isinstance(items, list) or not items:
            walker.error(operand_path, operand_line, "must be a list of one or more expressions")
            return False
        for index, item in enumerate(items):
            ok = check_expression(walker, item, f"{operand_path}[{index}]", key_line(items, index, operand_line)) and ok
        return ok
    if name == "not":
        return check_expression(walker, value[name], operand_path, operand_line) and ok
    for key in sorted(allowed):
        if key not in value:
            walker.error(join_path(path, key), line, f"is required by {name}; add it")
            ok = False
            continue
        valid, coerced = walker.check_value(Text(), value[key], join_path(path, key), key_line(value, key, line))
        if valid:
            value[key] = coerced
        ok = ok and valid
    return ok


def component_type(document: dict) -> str:
    """Image Builder's component type: TEST when the document has only a test phase, else BUILD."""
    names = {phase["name"] for phase in document["phases"]}
    return "TEST" if names == {"test"} else "BUILD"


def _unknown_action(action: str) -> str:
    if action in NOT_OFFERED:
        return f"'{action}' {NOT_OFFERED[action]}"
    return f"'{action}' is not an action module AWSTOE knows{_close(action, ACTIONS)}"


def _close(name: str, known) -> str:
    import difflib  # only a document with a typo pays for it

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _strings(value: object, path: str, line: int | None):
    """(string, YAML path, line) for every string inside a value read from the file."""
    if isinstance(value, str):
        yield value, path, line
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, join_path(path, key), key_line(value, key, line))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]", key_line(value, index, line))


def _plain(value: object) -> object:
    """The value as plain JSON types (the loader's dicts, lists and numbers remember lines and text)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _normalize(data: dict) -> dict:
    """The runner's JSON: AWSTOE's defaults filled in, parameters and constants as named entries."""
    def named(key: str) -> list[dict]:
        return [{"name": name, **_plain(settings)} for item in data.get(key, []) for name, settings in item.items()]

    phases = []
    for phase in data["phases"]:
        steps = []
        for step in phase["steps"]:
            action = step["action"]
            loop = _plain(step.get("loop"))
            if loop is not None:
                loop.setdefault("name", None)
                if isinstance(loop.get("forEach"), dict):
                    loop["forEach"].setdefault("delimiter", ",")
            steps.append({
                "name": step["name"],
                "action": action,
                "inputs": _plain(step.get("inputs", {})),
                "onFailure": step.get("onFailure", "Abort"),
                "maxAttempts": step.get("maxAttempts", 1),
                "timeoutSeconds": -1 if action == "Reboot" else step.get("timeoutSeconds", DEFAULT_TIMEOUT),
                "loop": loop,
            })
        phases.append({"name": phase["name"], "steps": steps})
    return {
        "name": data.get("name", ""),
        "description": data.get("description", ""),
        "schemaVersion": data["schemaVersion"],
        "parameters": named("parameters"),
        "constants": named("constants"),
        "phases": phases,
    }
