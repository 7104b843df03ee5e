"""Where a project's pieces live on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codemate_cfn.compile.layout import TEMPLATES_DIR
from codemate_cfn.errors import CodemateError

SCHEMA_SUFFIX = ".schema.json"  # a JSON Schema in params/, not a parameter file


@dataclass(frozen=True)
class Project:
    root: Path
    output: Path | None = None  # build directory; default <root>/build

    @classmethod
    def find(cls, start: Path | None = None) -> "Project":
        """The project containing `start` (default: the working directory)."""
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if (candidate / "templates_src" / "catalogue.py").is_file():
                return cls(candidate)
        raise CodemateError(f"no codemate-cfn project (templates_src/catalogue.py) in {here} or above")

    def shown(self, path: Path) -> Path:
        """`path` as messages show it: relative to the project when inside it."""
        return path.relative_to(self.root) if path.is_relative_to(self.root) else path

    @property
    def sources(self) -> Path:
        return self.root / "templates_src"

    @property
    def params_dir(self) -> Path:
        return self.root / "params"

    @property
    def build_dir(self) -> Path:
        return self.output or self.root / "build"

    @property
    def templates_dir(self) -> Path:
        return self.build_dir / TEMPLATES_DIR

    def param_files(self) -> list[Path]:
        """Every parameter file in params/: its *.json files but the JSON
        Schemas beside them (*.schema.json), which describe them."""
        return sorted(p for p in self.params_dir.glob("*.json") if not p.name.endswith(SCHEMA_SUFFIX))
