"""What a conversion tells the user: notes and warnings (also written as comments atop the YAML) and errors."""

from __future__ import annotations

from paracluster.errors import ConfigError


class ConversionError(ConfigError):
    """The v2 file cannot be converted; the message is one sentence naming the file, section or key to fix."""


class Message:
    """One note or warning; `kind` and `subject` say what it is about, for tests and for tools reading them."""

    __slots__ = ("level", "kind", "subject", "text", "comment")

    def __init__(self, level: str, kind: str, subject: str, text: str, comment: bool):
        self.level, self.kind, self.subject, self.text, self.comment = level, kind, subject, text, comment

    def __repr__(self) -> str:
        return f"Message({self.level} {self.kind}:{self.subject}: {self.text})"

    def __str__(self) -> str:
        return f"{self.level}: {self.text}"


class Messages:
    """Collects the notes and warnings of one conversion, in the order they arise."""

    def __init__(self) -> None:
        self.items: list[Message] = []

    def note(self, kind: str, subject: str, text: str, *, comment: bool = True) -> None:
        self.items.append(Message("Note", kind, subject, text, comment))

    def warn(self, kind: str, subject: str, text: str, *, comment: bool = True) -> None:
        self.items.append(Message("Warning", kind, subject, text, comment))

    def comments(self) -> str:
        """The lines written above the converted YAML: one `# ...` line per message that asks for it."""
        return "".join(f"# {item.text}\n" for item in self.items if item.comment)
