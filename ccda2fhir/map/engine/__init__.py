"""The engine: templates (what goes where), the filters' registry and the routes (which template
maps which C-CDA statement). It knows the formats a mapping author edits, nothing of any clinical
domain; every layer of the mapping stands on it.

- templating.py: ``Templates`` (each template run as the Python compiled from it, or by Jinja, the
  reference), ``build``/``render`` by template name, the environment and the templates folder;
- compiler.py, skeleton.py, expressions.py, runtime.py: a JSON template to Python, and what that
  Python runs against; values.py, prune.py: JSON values only, no empty ones;
- registry.py: the filter and global tables, filled by the filter packages it loads;
- routes.py: templates/routes/*.toml read into a table;
- ahead_of_time.py: the templates as one generated module (setup.py).
"""
from __future__ import annotations

from .templating import (SUFFIX, Templates, build, environment, make_environment, render, source_hash, templates,
                        templates_dir)

__all__ = ["SUFFIX", "Templates", "build", "environment", "make_environment", "render", "source_hash",
           "templates", "templates_dir"]
