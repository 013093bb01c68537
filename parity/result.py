"""What every check returns: how many cases it ran and which of them disagreed with real ttnn."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    name: str
    cases: int = 0
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def case(self, ok: bool, description: str) -> None:
        self.cases += 1
        if not ok:
            self.mismatches.append(description)
