"""The ParallelCluster 2 INI model: sections such as [cluster NAME] and [vpc NAME], typed reads, clear errors.

It parses with the standard library's configparser configured as ParallelCluster's converter does (inline `#` and
`;` comments, `%` interpolation, case-insensitive keys), so both read the same values from the same file.
"""

from __future__ import annotations

import configparser
import re

from paracluster.convert.messages import ConversionError

# Sections only a ParallelCluster 2 file has; used to tell such a file from a broken YAML one.
_V2_SECTION = re.compile(
    r"^\s*\[(aws|global|aliases|(cluster|vpc|queue|compute_resource|ebs|efs|fsx|raid) [^\]]+)\]\s*$", re.MULTILINE
)

_TYPES = {"int": "an integer", "float": "a number", "bool": "a boolean (true or false)"}


def looks_like_v2_ini(text: str) -> bool:
    """Whether `text` is a ParallelCluster 2 INI config (it has [aws], [global] or [cluster NAME] sections)."""
    return _V2_SECTION.search(text) is not None


def split_labels(value: str) -> list[str]:
    """The section labels a `*_settings` key lists, comma separated: `custom1,  custom2` -> ['custom1', 'custom2']."""
    return [label.strip() for label in value.split(",")]


class V2Config:
    """A parsed v2 file: values by (section, key), None when either is missing."""

    def __init__(self, text: str, source: str):
        self.source = source
        self._parser = configparser.ConfigParser(inline_comment_prefixes=("#", ";"))
        try:
            self._parser.read_string(text, source=source)
        except configparser.Error as err:
            first = str(err).splitlines()[0].rstrip(".:")
            raise ConversionError(
                f"{source}: cannot be read as a ParallelCluster 2 INI file ({first}); fix it"
            ) from None

    def sections(self) -> list[str]:
        return self._parser.sections()

    def has_section(self, section: str | None) -> bool:
        return section is not None and self._parser.has_section(section)

    def get(self, section: str | None, key: str) -> str | None:
        """The raw text of `key` in `section`; None when the section or key is absent."""
        if not self.has_section(section):
            return None
        try:
            return self._parser.get(section, key, fallback=None)
        except configparser.Error as err:  # a bad % interpolation
            raise ConversionError(f"{self.source}: [{section}] {key} cannot be read ({err}); fix its value") from None

    def typed(self, section: str | None, key: str, kind: str = "str") -> object:
        """The value of `key` as `kind` (str, int, float or bool, read as configparser reads them), or None."""
        text = self.get(section, key)
        if text is None or kind == "str":
            return text
        try:
            if kind == "int":
                return int(text)
            if kind == "float":
                return float(text)
            return self._parser.getboolean(section, key)
        except ValueError:
            raise ConversionError(
                f"{self.source}: [{section}] {key} = {text} is not {_TYPES[kind]}; fix the value"
            ) from None
