"""`python -m ccda2fhir` is the `ccda2fhir` command."""
import sys

from .serve.cli import main

sys.exit(main())
