"""Build: the compiled walker and narrative, the built-in templates compiled ahead of time, Cython
twins of the hottest pure-Python modules, and the templates as package data.

- ext/walker.pyx, ext/narrative.pyx -> ccda2fhir.walk._walker, ccda2fhir.walk._narrative: they read the tree
  lxml parsed through lxml's public C API (lxml/includes/*.pxd, etree_api.h) and libxml2's node
  structs (the libxml headers lxml ships), so they are compiled against the lxml installed at build
  time (pyproject.toml's build requirements).
- templates/ -> ccda2fhir/_templates.py: every template as the Python the template compiler
  writes for it (ccda2fhir.map.engine.ahead_of_time), so no template is compiled at run time. With
  CCDA2FHIR_CYTHON_TEMPLATES=1 it is also compiled with Cython (measured: no faster, minutes
  longer to build; see benchmarks/README.md).
- ccda2fhir._twins.TWINS (the engine's hot modules and every module of the filter packages) -> <module>.<source
  sha1>.<ext suffix> next to each, used only while the module's source is the one it was built
  from (ccda2fhir/_twins.py).

Every extension is optional: without a C compiler, Cython or lxml's headers the install still
succeeds and ccda2fhir runs on pure Python (ccda2fhir.compiled is False for the walker).
"""
import os
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def _templates_module() -> bool:
    """Write ccda2fhir/_templates.py from templates/ (needs Jinja2, orjson and lxml importable)."""
    try:
        from ccda2fhir.map.engine.ahead_of_time import generate
        code = generate(ROOT / "templates")
    except Exception as exc:  # noqa: BLE001 - the templates are then compiled at first use
        print(f"ccda2fhir: templates not compiled ahead of time ({type(exc).__name__}: {exc})")
        return False
    target = ROOT / "ccda2fhir" / "_templates.py"
    if not target.exists() or target.read_text() != code:
        target.write_text(code)
    return True


def _twins_module():
    """ccda2fhir/_twins.py read alone (no package imports: ccda2fhir's dependencies may be missing)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_ccda2fhir_twins", ROOT / "ccda2fhir" / "_twins.py")
    twins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twins)
    return twins


def _twins() -> dict:
    """Module -> the hash its twin is named by."""
    twins = _twins_module()
    return {m: twins.source_hash(twins.source_of(m).read_bytes()) for m in sorted(twins.TWINS)}


class BuildExt(build_ext):
    """Names each twin <module>.<source sha1><suffix>, the only name ccda2fhir/_twins.py loads."""

    def get_ext_filename(self, fullname):
        name = super().get_ext_filename(fullname)
        digest = _twins().get(fullname)
        if digest is None:
            return name
        stem, _, suffix = os.path.basename(name).partition(".")
        return os.path.join(os.path.dirname(name), f"{stem}.{digest}.{suffix}")

    def get_ext_fullpath(self, ext_name):
        # distutils would ask get_ext_filename for the last name only: a twin needs its full name
        fullname = self.get_ext_fullname(ext_name)
        if fullname not in _twins():
            return super().get_ext_fullpath(ext_name)
        filename = self.get_ext_filename(fullname)
        if not self.inplace:
            return os.path.join(self.build_lib, filename)
        package = fullname.rpartition(".")[0]
        package_dir = os.path.abspath(self.get_finalized_command("build_py").get_package_dir(package))
        return os.path.join(package_dir, os.path.basename(filename))

    def run(self):
        super().run()
        # twins of older sources are never loaded again: remove those in the source tree
        for module, current in _twins().items():
            source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
            for old in source.parent.glob(f"{source.stem}.*.*"):
                middle = old.name.split(".")[1]
                if len(middle) == 16 and middle != current and old.suffix in (".so", ".pyd"):
                    old.unlink()


def _lxml_options() -> dict:
    import lxml
    include_dirs = lxml.get_include()
    if not any(os.path.isfile(os.path.join(d, "libxml", "tree.h")) for d in include_dirs):
        include_dirs.append("/usr/include/libxml2")   # an lxml built against the system libxml2
    return dict(include_dirs=include_dirs, depends=["ext/nodes.pxd", "ext/utf8.pxd"])


def _extensions() -> list:
    templates = _templates_module()
    try:
        from Cython.Build import cythonize
    except ImportError:  # Cython missing: pure Python only
        return []
    directives = {"language_level": "3", "boundscheck": False, "wraparound": False}
    try:
        options = _lxml_options()
        walkers = [Extension("ccda2fhir.walk._walker", ["ext/walker.pyx"], **options),
                   Extension("ccda2fhir.walk._narrative", ["ext/narrative.pyx"], **options)]
    except ImportError:  # lxml missing at build time: the pure-Python walker and narrative
        walkers = []
    others = []
    if templates and os.environ.get("CCDA2FHIR_CYTHON_TEMPLATES"):
        others.append(Extension("ccda2fhir._templates", ["ccda2fhir/_templates.py"]))
    try:
        twins = _twins()
    except Exception as exc:  # noqa: BLE001
        print(f"ccda2fhir: no compiled twins ({type(exc).__name__}: {exc})")
        twins = {}
    # no debug symbols in the twins: they would triple the wheel's size
    small = [] if sys.platform == "win32" else ["-g0"]
    others += [Extension(m, [f"{m.replace('.', '/')}.py"], extra_compile_args=small) for m in twins]
    recipe = _twins_module()   # Python's semantics exactly (same output); part of the twins' names
    twin_directives, build_dir = recipe.DIRECTIVES, f"build/cython-{recipe.source_hash(b'')[:8]}"
    extensions = (cythonize(walkers, include_path=["ext"], compiler_directives=directives, quiet=True,
                            build_dir="build/cython")
                  + cythonize(others, compiler_directives=twin_directives, quiet=True,
                              build_dir=build_dir))
    for ext in extensions:   # set here: cythonize() does not carry Extension(optional=True) over
        ext.optional = True  # a failed C build is a warning, not a failed install
    return extensions


setup(
    packages=find_packages(include=["ccda2fhir", "ccda2fhir.*"]) + ["ccda2fhir.templates"],
    package_dir={"ccda2fhir.templates": "templates"},
    package_data={"ccda2fhir.data": ["*.json", "*.xml", "*.html", "*.js", "valuemaps/*.json", "fhir/*.json",
                                    "fhir/README.md", "samples/*.xml", "samples/README.md", "samples/LICENSE-*"],
                  "ccda2fhir.templates": ["*/*.j2", "routes/*.toml", "README.md", "FILTERS.md"]},
    ext_modules=_extensions(),
    cmdclass={"build_ext": BuildExt},
)
