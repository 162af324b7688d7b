"""Load a cluster or image config: parse the YAML, check it against its key tree, and return a view and problems."""

from __future__ import annotations

from pathlib import Path

from paracluster.config.model import ConfigNode, view
from paracluster.config.schema.types import Section
from paracluster.config.schema.walk import Problem, Walker
from paracluster.config.yamlfile import parse_yaml, read_yaml_file


class LoadedConfig:
    """The result of loading: `config` is None when any ERROR problem was found; `problems` lists them all."""

    def __init__(self, config: ConfigNode | None, problems: list[Problem] | None = None, data: dict | None = None):
        self.config = config
        self.problems = problems or []
        self.data = data

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.level == "ERROR"]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.level != "ERROR"]


def check_data(spec: Section, data: object) -> LoadedConfig:
    """Check already-parsed data against `spec`; coerce its scalars in place."""
    walker = Walker()
    if data is None:
        walker.error("", None, "the file is empty; write a configuration (see `paracluster config-schema`)")
        return LoadedConfig(None, walker.problems)
    if not isinstance(data, dict):
        walker.error("", None, f"the file must hold a YAML mapping of keys such as {next(iter(spec.fields))}")
        return LoadedConfig(None, walker.problems)
    ok = walker.check_section(spec, data, "", getattr(data, "line", None))
    return LoadedConfig(view(spec, data) if ok else None, walker.problems, data)


def load_config_text(spec: Section, text: str, source: str = "<config>") -> LoadedConfig:
    """Parse YAML text and check it; a YAML syntax error raises ConfigFileError."""
    return check_data(spec, parse_yaml(text, source))


def load_config_file(spec: Section, path: str | Path) -> LoadedConfig:
    """Read, parse and check a config file; an unreadable file or bad YAML raises ConfigFileError."""
    return check_data(spec, read_yaml_file(path))


def load_cluster_config(path: str | Path) -> LoadedConfig:
    from paracluster.config.schema import CLUSTER

    return load_config_file(CLUSTER, path)


def load_image_config(path: str | Path) -> LoadedConfig:
    from paracluster.config.schema import IMAGE_CONFIG

    return load_config_file(IMAGE_CONFIG, path)
