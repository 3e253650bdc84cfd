"""Test-only: `ccda2fhir serve` whose workers misbehave on request (tests/support/pool_hooks: the
patient id 'hang' hangs, 'sleep-2' takes 2 s, 'crash' dies). Run from the checkout's root:
python -m tests.support.serve_hooked --port 0 [serve flags]."""
import sys

from ccda2fhir.serve.command import run, standalone_parser
from tests.support.pool_hooks import misbehave

if __name__ == "__main__":
    sys.exit(run(standalone_parser().parse_args(sys.argv[1:]), initializer=misbehave))
