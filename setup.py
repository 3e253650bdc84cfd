"""Build: the Cython walker and narrative (ext/*.pyx -> ccda2fhir._walker, ccda2fhir._narrative)
and the templates as package data.

Both extensions read the tree lxml parsed through lxml's public C API (lxml/includes/*.pxd,
etree_api.h) and libxml2's node structs (the libxml headers lxml ships), so they are compiled
against the lxml installed at build time (pyproject.toml's build requirements). They are optional:
where no C compiler (or Cython) is available the install still succeeds and ccda2fhir runs on the
pure-Python twins (ccda2fhir.compiled is False).
"""
import os

from setuptools import Extension, setup


def _extensions():
    try:
        import lxml
        from Cython.Build import cythonize
    except ImportError:  # Cython or lxml missing at build time: pure-Python twins only
        return []
    include_dirs = lxml.get_include()
    if not any(os.path.isfile(os.path.join(d, "libxml", "tree.h")) for d in include_dirs):
        include_dirs.append("/usr/include/libxml2")   # an lxml built against the system libxml2
    options = dict(include_dirs=include_dirs, depends=["ext/nodes.pxd", "ext/utf8.pxd"])
    extensions = cythonize(
        [Extension("ccda2fhir._walker", ["ext/walker.pyx"], **options),
         Extension("ccda2fhir._narrative", ["ext/narrative.pyx"], **options)],
        include_path=["ext"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        quiet=True,
    )
    for ext in extensions:   # set here: cythonize() does not carry Extension(optional=True) over
        ext.optional = True  # a failed C build is a warning, not a failed install
    return extensions


setup(
    packages=["ccda2fhir", "ccda2fhir.walk", "ccda2fhir.map", "ccda2fhir.map.filters",
              "ccda2fhir.assemble", "ccda2fhir.serve", "ccda2fhir.data", "ccda2fhir.templates",
              "ccda2fhir.conform", "ccda2fhir.validate"],
    package_dir={"ccda2fhir.templates": "templates"},
    package_data={"ccda2fhir.data": ["*.json", "*.xml", "*.html", "*.js", "valuemaps/*.json", "fhir/*.json",
                                    "fhir/README.md"],
                  "ccda2fhir.templates": ["*/*.j2", "routes/*.toml", "README.md"]},
    ext_modules=_extensions(),
)
