"""The service's parts on their own: settings from flags and the environment, gzip both ways, the
token check, and README's service limits table against ccda2fhir.limits."""
from __future__ import annotations

import gzip
import re
import zlib

import pytest

from ccda2fhir.limits import LIMITS, SERVICE, described
from ccda2fhir.serve import auth
from ccda2fhir.serve.command import standalone_parser
from ccda2fhir.serve.encoding import InflateError, Inflater, TooLarge, accepts_gzip
from ccda2fhir.serve.problems import Problem
from ccda2fhir.serve.settings import Settings, load_tokens
from tests.conftest import HERE

README = (HERE.parent / "README.md").read_text()


# ---- settings ----------------------------------------------------------------------------------------

def test_settings_default_to_the_limits():
    s = Settings()
    assert s.limits is LIMITS and s.service is SERVICE and s.tokens == ()
    assert s.capacity == SERVICE.queue_per_worker * s.worker_count and s.timeout == LIMITS.timeout
    assert s.convert_options() == {"max_bytes": LIMITS.max_bytes, "max_depth": LIMITS.max_depth,
                                   "max_attributes": LIMITS.max_attributes, "max_text": LIMITS.max_text}


def test_every_limit_is_read_from_the_environment(tmp_path):
    env = {"CCDA2FHIR_WORKERS": "3", "CCDA2FHIR_MAX_BYTES": "1000", "CCDA2FHIR_TIMEOUT": "0",
           "CCDA2FHIR_BODY_TIMEOUT": "7.5", "CCDA2FHIR_QUEUE_PER_WORKER": "4", "CCDA2FHIR_TOKEN": " s3cret "}
    s = Settings.from_env(env)
    assert (s.workers, s.limits.max_bytes, s.timeout, s.service.body_timeout, s.capacity, s.tokens) == \
        (3, 1000, None, 7.5, 12, ("s3cret",))
    assert s.limits.max_depth == LIMITS.max_depth and s.service.header_timeout == SERVICE.header_timeout
    tokens = tmp_path / "t"
    tokens.write_text("a\nb\n")
    assert Settings.from_env({"CCDA2FHIR_TOKEN_FILE": str(tokens), "CCDA2FHIR_TOKEN": "c"}).tokens == ("a", "b")
    assert Settings.from_env({"CCDA2FHIR_TOKEN_FILE": str(tokens)}, tokens=False).tokens == ()


@pytest.mark.parametrize("env, words", [
    ({"CCDA2FHIR_MAX_BYTES": "1.5"}, "CCDA2FHIR_MAX_BYTES='1.5' is not a int"),
    ({"CCDA2FHIR_HEADER_TIMEOUT": "-1"}, "is below 0"),
    ({"CCDA2FHIR_BACKLOG": "0"}, "backlog must be above 0"),
    ({"CCDA2FHIR_TOKEN_FILE": "/nonexistent"}, "cannot read the token file /nonexistent"),
])
def test_bad_environment_values_say_which_variable(env, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        Settings.from_env(env)


def test_the_serve_flags_cover_every_limit_with_its_default():
    parser = standalone_parser()
    defaults = vars(parser.parse_args([]))
    for group in (LIMITS, SERVICE):
        for name, default, what in described(group):
            assert defaults[name] == default, name
    help_text = parser.format_help()
    for flag in ("--header-timeout", "--body-timeout", "--queue-per-worker", "--max-connections", "--backlog",
                 "--shutdown-timeout", "--max-header-bytes", "--keep-alive", "--max-bytes", "--timeout",
                 "--workers", "--token-file"):
        assert flag in help_text, flag


def test_token_files(tmp_path):
    f = tmp_path / "tokens"
    f.write_text("# comment\n\n  one  \ntwo\n")
    assert load_tokens(f) == ("one", "two")
    f.write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no token"):
        load_tokens(f)
    f.write_text("two words\n")
    with pytest.raises(ValueError, match="space or control character"):
        load_tokens(f)


# ---- gzip --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header, accepted", [
    ("gzip", True), ("GZIP", True), ("deflate, gzip;q=0.5", True), ("x-gzip", True), ("*", True),
    ("gzip;q=0", False), ("gzip;q=0.0, *", False), ("*;q=0", False), ("identity", False), ("br", False),
    ("", False), (None, False), ("gzip;q=nonsense", False), ("br, *;q=0.1", True),
])
def test_accept_encoding(header, accepted):
    assert accepts_gzip(header) is accepted


def test_the_inflater_streams_and_stops_at_its_limit():
    data = b"x" * 100_000
    packed = gzip.compress(data)
    inflater = Inflater(100_000)
    out = b"".join(inflater.feed(packed[i:i + 7]) for i in range(0, len(packed), 7))
    inflater.finish()
    assert out == data
    small = Inflater(99_999)
    with pytest.raises(TooLarge):
        small.feed(packed)
    assert small.size <= 100_000                      # it stopped inflating at the limit


def test_the_inflater_refuses_truncated_and_corrupt_streams():
    packed = gzip.compress(b"hello " * 100)
    inflater = Inflater(10_000)
    inflater.feed(packed[:-8])
    with pytest.raises(InflateError, match="truncated"):
        inflater.finish()
    with pytest.raises(InflateError, match="corrupt"):
        Inflater(10_000).feed(b"\x1f\x8b\x08\x00" + b"\xff" * 20)
    with pytest.raises(InflateError, match="corrupt"):
        Inflater(10_000).feed(zlib.compress(b"zlib, not gzip"))


# ---- tokens ----------------------------------------------------------------------------------------------

def test_the_token_check():
    auth.check(None, ())                                # no tokens: no check
    auth.check("Bearer abc", ("xyz", "abc"))
    auth.check("bearer   abc ", ("abc",))
    for header in (None, "", "Bearer", "Basic abc", "abc", "Bearer abcd", "Bearer ab"):
        with pytest.raises(Problem) as err:
            auth.check(header, ("abc",))
        assert err.value.status == 401 and err.value.headers["WWW-Authenticate"].startswith("Bearer")


# ---- README ----------------------------------------------------------------------------------------------

def test_readme_lists_every_service_limit_with_its_default():
    section = README[README.index("### Service limits"):]
    section = section[:section.index("\n#")]
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w-]+)` \| ([^|]+?) \|", section, re.M)}
    assert set(table) == {"--" + name.replace("_", "-") for name, _, _ in described(SERVICE)}
    for name, default, _ in described(SERVICE):
        assert table["--" + name.replace("_", "-")] == (f"{default:g}" if isinstance(default, float) else str(default))


# ---- the request log ----------------------------------------------------------------------------------------

def test_the_request_log_answers_for_an_app_that_failed_without_answering(caplog):
    import asyncio

    import orjson

    from ccda2fhir.serve.logs import RequestLog

    async def failing(scope, receive, send):
        raise KeyError("a defect")
    sent: list = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    caplog.set_level("INFO", logger="ccda2fhir")
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"req-1")]}
    asyncio.run(RequestLog(failing)(scope, receive, send))
    start, body = sent
    assert start["status"] == 500 and (b"x-request-id", b"req-1") in start["headers"]
    issue = orjson.loads(body["body"])["issue"][0]
    assert issue["code"] == "exception" and "req-1" in issue["diagnostics"] and "defect" not in issue["diagnostics"]
    failure = next(r for r in caplog.records if r.getMessage() == "unexpected failure")
    assert failure.exc_info[0] is KeyError
    access = next(r for r in caplog.records if r.getMessage() == "request")
    assert access.fields["status"] == 500 and access.fields["request_id"] == "req-1"
