"""Build: the Cython walker (ext/walker.pyx -> ccda2fhir._walker) and the templates as package data.

The extension is optional: where no C compiler is available the install still
succeeds and ccda2fhir runs on its pure-Python walker (ccda2fhir.compiled is False).
"""
from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
    ext_modules = cythonize(
        [Extension("ccda2fhir._walker", ["ext/walker.pyx"], optional=True)],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        quiet=True,
    )
except ImportError:  # Cython missing: pure-Python walker only
    ext_modules = []

setup(
    packages=["ccda2fhir", "ccda2fhir.walk", "ccda2fhir.map", "ccda2fhir.map.filters",
              "ccda2fhir.assemble", "ccda2fhir.serve", "ccda2fhir.data", "ccda2fhir.templates",
              "ccda2fhir.conform", "ccda2fhir.validate"],
    package_dir={"ccda2fhir.templates": "templates"},
    package_data={"ccda2fhir.data": ["*.json", "valuemaps/*.json", "fhir/*.json", "fhir/README.md"],
                  "ccda2fhir.templates": ["*/*.j2", "routes/*.toml", "README.md"]},
    ext_modules=ext_modules,
)
