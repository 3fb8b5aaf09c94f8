"""The WAQI API client: one pooled HTTP session, the shared rate limiter, retries, typed errors.

Two requests: a station's feed (``/feed/{path}/``) and the stations on a map box
(``/v2/map/bounds``). WAQI answers HTTP 200 with {"status": "error", "data": "..."} for most
failures (API.md §7), so the body, not the status code, says what went wrong. Each failure
kind the producer handles differently has its own exception; every message is free of the
token. Every answer's Date header sets the API clock (clock.py).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from aqistream.source.clock import ApiClock
from aqistream.source.ratelimit import RateLimiter
from aqistream.source.stations import Box

DEFAULT_API_URL = "https://api.waqi.info"
# (connect, read) seconds: a slow station must not hold a worker for long.
TIMEOUT = (5, 10)
ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
UNKNOWN_STATION_ERRORS = ("Unknown station", "Unknown ID", "no such station", "Invalid geo")
FEED = "feed"
MAP = "map"


class WaqiError(Exception):
    """A failure to get a station's reading; str() is a line for a human."""


class InvalidToken(WaqiError):
    """The API refused the token: nothing will work until it is fixed."""


class UnknownStation(WaqiError):
    """The API does not know this station: retrying will not help."""


class TransientError(WaqiError):
    """Connection error, timeout, 5xx, empty or non-JSON body: worth retrying."""


class AnswerTimedOut(TransientError):
    """Sent, and not answered within the read timeout: the API may still receive it, and
    count it against the quota, later."""


class OverQuota(TransientError):
    """The API's rate limit for this token is exceeded."""


class MapError(WaqiError):
    """The map request was refused (e.g. "invalid bounds"): asking again will not help."""


class Stopped(WaqiError):
    """The producer is shutting down; the request was not made."""


def outcome_of(error: WaqiError | None) -> str:
    """A request's outcome as the metrics count it."""
    if error is None:
        return "ok"
    if isinstance(error, InvalidToken):
        return "invalid_key"
    if isinstance(error, OverQuota):
        return "over_quota"
    if isinstance(error, TransientError):
        return "transient"
    if isinstance(error, UnknownStation):
        return "unknown_station"
    return "error"


def redact(text: str, token: str) -> str:
    """Remove the token from any text that may include a URL (exceptions, log lines)."""
    if not token:
        return text
    return text.replace(token, "***").replace(quote(token, safe=""), "***")


def parse_envelope(body: bytes) -> dict:
    """A WAQI body as its JSON object, or the TransientError a broken body stands for."""
    if not body.strip():
        raise TransientError("empty response body")
    try:
        envelope = json.loads(body)
    except ValueError:
        hint = " (an HTML page: is --api-url the WAQI API?)" if body.lstrip()[:1] == b"<" else ""
        raise TransientError(f"response is not JSON{hint}") from None
    if not isinstance(envelope, dict):
        raise TransientError("response is not a WAQI JSON object")
    return envelope


def error_message(envelope: dict) -> str:
    """The text of an error body, raising for the errors every request shares."""
    data = envelope.get("data")
    message = str(data if isinstance(data, str) else envelope.get("message") or envelope)
    if message == "Invalid key":
        raise InvalidToken("Invalid key")
    if message == "Over quota":
        raise OverQuota("Over quota")
    return message


def parse_feed_body(body: bytes) -> dict:
    """The `data` of a /feed/ response, or the WaqiError its body stands for (pure)."""
    envelope = parse_envelope(body)
    data = envelope.get("data")
    if envelope.get("status") == "ok" and isinstance(data, dict):
        # An unknown numeric id comes back as status ok with a nested error (API.md §7).
        if data.get("status") == "error":
            raise UnknownStation(str(data.get("msg") or "Unknown ID"))
        return data
    message = error_message(envelope)
    if message.startswith(UNKNOWN_STATION_ERRORS):
        raise UnknownStation(message)
    raise UnknownStation(f"the API answered an error: {message[:200]}")


def parse_map_body(body: bytes) -> list:
    """The items of a map/bounds response, or the WaqiError its body stands for (pure)."""
    envelope = parse_envelope(body)
    data = envelope.get("data")
    if envelope.get("status") == "ok" and isinstance(data, list):
        return data
    if envelope.get("status") == "ok":
        raise TransientError("map answer without a list of stations")
    raise MapError(f"the API refused the map request: {error_message(envelope)[:200]}")


class WaqiClient:
    def __init__(
        self,
        token: str,
        api_url: str,
        limiter: RateLimiter,
        workers: int,
        stop: threading.Event,
        attempts: int = ATTEMPTS,
        sleep_jitter: Callable[[float], float] = lambda cap: random.uniform(0, cap),
        clock: ApiClock | None = None,
        on_request: Callable[[str, str], None] = lambda kind, outcome: None,
    ):
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter
        self.stop = stop
        self.attempts = attempts
        self.sleep_jitter = sleep_jitter
        self.clock = clock or ApiClock()
        self.on_request = on_request  # (kind, outcome) of every request sent, for metrics
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "aqi-stream"
        # Proxy and CA settings from the environment are read once, here: with trust_env
        # requests would look them up (and stat ~/.netrc) again on every single request.
        self.session.proxies = requests.utils.get_environ_proxies(self.api_url)
        # (Only over https: requests stats a CA bundle path on every request, http or not.)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self.session.verify = bundle if bundle and self.api_url.startswith("https:") else True
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=workers, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.requests_made = 0
        self.requests_by_kind = {FEED: 0, MAP: 0}
        self.count_lock = threading.Lock()

    def feed_url(self, feed_path: str) -> str:
        return f"{self.api_url}/feed/{quote(feed_path, safe='@:;/-.')}/"

    def fetch_feed(self, feed_path: str) -> dict:
        """The latest reading of a station (`data` of /feed/{feed_path}/), retried if transient."""
        return self.fetch(FEED, self.feed_url(feed_path), {}, parse_feed_body)

    def fetch_map(self, box: Box) -> list:
        """The items of /v2/map/bounds for `box`, official and crowd stations, retried if
        transient."""
        url = f"{self.api_url}/v2/map/bounds"
        return self.fetch(MAP, url, {"latlng": str(box), "networks": "all"}, parse_map_body)

    def fetch(self, kind: str, url: str, params: dict, parse: Callable[[bytes], object]):
        for attempt in range(self.attempts):
            try:
                return self.request_once(kind, url, params, parse)
            except OverQuota:
                self.limiter.slow_down()
                if attempt == self.attempts - 1:
                    raise
            except TransientError:
                if attempt == self.attempts - 1:
                    raise
            # Exponential backoff with full jitter, so retries of many stations spread out.
            if self.stop.wait(self.sleep_jitter(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))):
                raise Stopped("shutting down")
        raise AssertionError("unreachable")

    def request_once(self, kind: str, url: str, params: dict, parse: Callable[[bytes], object]):
        if not self.limiter.acquire(self.stop):
            raise Stopped("shutting down")
        with self.count_lock:
            self.requests_made += 1
            self.requests_by_kind[kind] += 1
        held = 0.0
        try:
            result = self.get(url, params, parse)
        except WaqiError as error:
            self.on_request(kind, outcome_of(error))
            if isinstance(error, AnswerTimedOut):
                # It may reach the API yet: its place in flight is kept as long again
                # before another request takes it, so a late arrival cannot bunch up.
                held = TIMEOUT[1]
            raise
        finally:
            self.limiter.release(after=held)
        self.on_request(kind, "ok")
        return result

    def get(self, url: str, params: dict, parse: Callable[[bytes], object]):
        sent = time.monotonic()
        try:
            response = self.session.get(
                url, params={**params, "token": self.token}, timeout=TIMEOUT
            )
        except requests.ReadTimeout:
            raise AnswerTimedOut("the API did not answer in time") from None
        except requests.Timeout:  # could not connect in time: nothing was sent
            raise TransientError("the API did not answer in time") from None
        except requests.RequestException as error:
            raise TransientError(redact(describe_connection_error(error), self.token)) from None
        if response.status_code != 200:
            hint = " (is --api-url the WAQI API?)" if 400 <= response.status_code < 500 else ""
            raise TransientError(f"HTTP {response.status_code} from the API{hint}")
        # Only the API's own answers set its clock: an error page may come from a proxy
        # between us, with a clock of its own.
        self.clock.heard(response.headers.get("Date"), sent, time.monotonic())
        return parse(response.content)

    def close(self) -> None:
        self.session.close()


def describe_connection_error(error: requests.RequestException) -> str:
    """A short reason instead of urllib3's nested repr (which also carries the URL)."""
    reason = error.__context__ or error
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused by the API host"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "the API host name does not resolve"
    return f"cannot reach the API: {type(reason).__name__}"
