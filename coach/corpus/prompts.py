"""Versioned prompt files rendered with variables that must all be supplied."""

from __future__ import annotations

import re
from dataclasses import dataclass

from coach.corpus.bank import data_root
from coach.errors import CoachError

VARIABLE_RE = re.compile(r"{{(\w+)}}")
PART_RE = re.compile(r"^---\n(system|user)\n---\n", re.MULTILINE)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str

    @property
    def variables(self) -> set[str]:
        return set(VARIABLE_RE.findall(self.system + self.user))

    def render(self, **values: str) -> tuple[str, str]:
        """(system, user) with every {{variable}} replaced; missing or unknown ones are errors."""
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            raise CoachError(
                f"prompt {self.name}.{self.version}: missing {sorted(missing)}, unexpected {sorted(extra)}"
            )

        def fill(text: str) -> str:
            return VARIABLE_RE.sub(lambda m: str(values[m.group(1)]), text)

        return fill(self.system), fill(self.user)


def load_prompt(name: str, version: str = "v1") -> Prompt:
    path = data_root() / "prompts" / f"{name}.{version}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise CoachError(f"prompt file missing: {path}") from None
    parts = PART_RE.split(text)
    sections = dict(zip(parts[1::2], parts[2::2]))
    if set(sections) != {"system", "user"}:
        raise CoachError(f"{path}: needs a system and a user part")
    return Prompt(name, version, sections["system"].strip(), sections["user"].strip())
