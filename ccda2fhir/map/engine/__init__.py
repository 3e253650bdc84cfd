"""The engine: templates (what goes where), the filters' registry and the routes (which template
maps which C-CDA statement). It knows the formats a mapping author edits, nothing of any clinical
domain; every layer of the mapping stands on it.

- templating.py: ``Templates`` (each template run as the Python compiled from it, or by Jinja, the
  reference), ``build``/``render`` by template name, the environment and the templates folder;
- compiler.py, skeleton.py, expressions.py, runtime.py: a JSON template to Python, and what that
  Python runs against; values.py, prune.py: JSON values only, no empty ones;
- registry.py: the filter and global tables, filled by the filter packages it loads;
- routes.py: templates/routes/*.toml read into a table;
- overlay.py, scope.py: a user's templates, routes and terminology over the built-in ones, and which
  overlay the running conversion uses (``build`` and the route table follow it);
- ahead_of_time.py: the templates as one generated module (setup.py).
"""
from __future__ import annotations

from .overlay import Overlay, OverlayError, build, overlay_for
from .scope import active, using
from .templating import (SUFFIX, Templates, environment, make_environment, render, source_hash, templates,
                        templates_dir)

__all__ = ["Overlay", "OverlayError", "overlay_for", "active", "using", "SUFFIX", "Templates", "build", "environment", "make_environment", "render", "source_hash",
           "templates", "templates_dir"]
