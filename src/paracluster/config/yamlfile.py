"""Read a YAML config file into plain dicts and lists that remember the line of every key and item; write configs."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from paracluster.errors import ConfigFileError

# ParallelCluster reads configs with PyYAML's safe_load (YAML 1.1: `yes` is a boolean, `010` is octal), so we use
# the same library and its C parser when present, and only hook the constructor to keep line numbers.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict):
    """A mapping from the file; `key_lines[key]` is the 1-based line of the key, `line` of the mapping."""

    __slots__ = ("key_lines", "line", "duplicates")


class LineList(list):
    """A sequence from the file; `item_lines[i]` is the 1-based line of item i, `line` of the sequence."""

    __slots__ = ("item_lines", "line")


class _Loader(_BaseLoader):
    """Safe loader whose mappings and sequences carry their line numbers."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.key_lines = {}
    mapping.line = node.start_mark.line + 1
    mapping.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in mapping:
            mapping.duplicates.append((key, key_node.start_mark.line + 1))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    items = LineList(loader.construct_object(child, deep=True) for child in node.value)
    items.item_lines = [child.start_mark.line + 1 for child in node.value]
    items.line = node.start_mark.line + 1
    return items


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


class TextInt(int):
    """An integer that remembers how the file wrote it (`0777` is 511 but its `text` is '0777')."""


class TextFloat(float):
    """A number that remembers how the file wrote it (`1.10` keeps its `text` '1.10')."""


class _TextLoader(_Loader):
    """The line-keeping loader whose numbers also keep their text.

    Documents read by Go programs (AWSTOE component documents) get a number's text wherever a string is expected:
    `permissions: 0777` is the string '0777' there, not the YAML 1.1 octal 511.
    """


def _construct_text_int(loader: _TextLoader, node: yaml.ScalarNode) -> TextInt:
    number = TextInt(loader.construct_yaml_int(node))
    number.text = node.value
    return number


def _construct_text_float(loader: _TextLoader, node: yaml.ScalarNode) -> TextFloat:
    number = TextFloat(loader.construct_yaml_float(node))
    number.text = node.value
    return number


_TextLoader.add_constructor("tag:yaml.org,2002:int", _construct_text_int)
_TextLoader.add_constructor("tag:yaml.org,2002:float", _construct_text_float)


def parse_yaml(text: str, source: str, keep_number_text: bool = False) -> object:
    """Parse YAML text; raise ConfigFileError naming the source, line and problem on a syntax error.

    A ParallelCluster 2 INI file is not YAML (or not a mapping): that error says how to convert it instead. With
    `keep_number_text`, numbers are TextInt/TextFloat, which remember how they were written.
    """
    loader = _TextLoader if keep_number_text else _Loader
    try:
        data = yaml.load(text, Loader=loader)  # noqa: S506 - both loaders derive from the safe loader
    except yaml.YAMLError as err:
        _refuse_v2_ini(text, source)
        raise ConfigFileError(_syntax_problem(err, source)) from None
    except RecursionError:
        raise ConfigFileError(f"{source}: the YAML is nested too deeply to read; fix the YAML syntax.") from None
    if not isinstance(data, dict):
        _refuse_v2_ini(text, source)
    return data


def _syntax_problem(err: yaml.YAMLError, source: str) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        return f"{source}{where}: {problem}; fix the YAML syntax."
    return f"{source}: {err}; fix the YAML syntax."


def read_yaml_file(path: str | Path) -> object:
    """Read and parse a YAML file; raise ConfigFileError with a clear sentence on any failure."""
    return parse_yaml(read_config_text(path), str(path))


def read_config_text(path: str | Path) -> str:
    """Read a configuration file's text; raise ConfigFileError with a clear sentence on any failure."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{path}: file not found; pass the path of an existing configuration file.") from None
    except IsADirectoryError:
        raise ConfigFileError(f"{path}: is a directory; pass the path of a configuration file.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"failed to read {path}: {err}") from None


def _refuse_v2_ini(text: str, path: str) -> None:
    """Say how to convert a ParallelCluster 2 INI file given where a v3 YAML file is expected."""
    from paracluster.convert.ini import looks_like_v2_ini  # only files that are not YAML mappings pay for it

    if looks_like_v2_ini(text):
        raise ConfigFileError(
            f"{path} is a ParallelCluster 2 INI file; convert it with `paracluster3-config-converter -c {path} "
            "-o cluster.yaml` (or `paracluster convert-config`) and pass the YAML file it writes."
        )


class _IndentedDumper(yaml.SafeDumper):
    """Indents list items under their key (`Key:\\n  - item`), as ParallelCluster's tools write configs."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: ARG002 - PyYAML's signature
        return super().increase_indent(flow, False)


def dump_yaml(data: dict) -> str:
    """A config as YAML text, keys in the order given, as `pcluster configure` and its converter write them."""
    return yaml.dump(data, Dumper=_IndentedDumper, sort_keys=False, default_flow_style=False)


def write_new_config_file(path: Path, text: str, argument: str) -> None:
    """Write a config file that must not exist yet, readable by its owner only (it may name secrets and buckets).

    `argument` is the flag that named the path, for the error sentence (`-o`, `--output-file`, ...).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigFileError(f"{argument} {path} already exists; choose another file or remove it") from None
    except OSError as err:
        raise ConfigFileError(f"failed to write {argument} {path}: {err.strerror}") from None
