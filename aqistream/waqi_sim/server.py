"""The HTTP edge: a threading HTTP/1.1 server that answers like api.waqi.info.

Each WAQI request goes through the same steps, in this order:
  1. an outage (admin) answers 503 or closes the connection;
  2. nginx's own answers: 301 for '//' in the path, HTML 404 for unknown paths, and the
     JSON `message: 404` for an empty city;
  3. the token check ("Invalid key");
  4. the quota ("Over quota"); a request that passes uses one unit of quota, even if a fault
     then spoils its answer;
  5. a fault roll: 5xx, empty body or non-JSON body;
  6. the WAQI answer; once it is written to the connection, the reading it carries goes
     into the served record (with the simulated time the request came in).
Added latency delays every answer except the admin endpoint's. /admin/... bypasses all steps.
Every answer's Date header is the simulated time: the API's clock, which a client running
against a fast clock can read.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aqistream.waqi_sim import responses
from aqistream.waqi_sim.admin import AdminApi
from aqistream.waqi_sim.api import (
    HTML_TYPE,
    JSON_TYPE,
    Reply,
    Request,
    WaqiApi,
    parse_target,
    query_params,
)
from aqistream.waqi_sim.clock import SimulatedClock
from aqistream.waqi_sim.faults import (
    EMPTY_BODY,
    NO_FAULT,
    NOT_JSON,
    OUTAGE_CLOSE,
    SERVER_ERROR,
    Faults,
)
from aqistream.waqi_sim.quota import Quota
from aqistream.waqi_sim.served import ANSWERED, FAULT, INVALID_KEY, NGINX, OVER_QUOTA, ServedRecord

POWERED_BY = "rxstreamer-waqi/1.3"
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"]*")


def redact(text: str) -> str:
    """Hide the value of every `token=` in a logged URL."""
    return _TOKEN_IN_URL.sub(r"\1REDACTED", text)


class WaqiSimulator:
    """Everything a request needs: the WAQI API, the clock, quota, faults and the record."""

    def __init__(
        self,
        api: WaqiApi,
        clock: SimulatedClock,
        quota: Quota,
        faults: Faults,
        served: ServedRecord,
        valid_tokens: frozenset[str] = frozenset(),
        access_log: bool = False,
    ) -> None:
        self.api = api
        self.clock = clock
        self.quota = quota
        self.faults = faults
        self.served = served
        self.valid_tokens = valid_tokens
        self.access_log = access_log
        self.admin = AdminApi(api, clock, quota, faults, served)

    def token_is_valid(self, token: str | None) -> bool:
        """With no --token given any non-empty token is valid."""
        if not token:
            return False
        return not self.valid_tokens or token in self.valid_tokens

    def answer(self, target: str) -> Answer:
        """What a WAQI request gets, decided at simulated time now (steps 1 to 6 above)."""
        now = self.clock.now()
        parsed = parse_target(target)
        token = (
            parsed.token
            if isinstance(parsed, Request)
            else query_params(urlsplit(target).query).get("token")
        )
        outage = self.faults.in_outage(now)
        if outage is not None:
            self.served.request(token, FAULT)
            return Answer(None if outage == OUTAGE_CLOSE else _nginx_error(503), 0.0, now)
        verdict = self.faults.roll()
        if isinstance(parsed, Reply):
            outcome, reply = NGINX, parsed
        elif not self.token_is_valid(token):
            outcome, reply = INVALID_KEY, Reply(200, responses.error_body(responses.INVALID_KEY))
        elif not self.quota.allow(token, now):
            outcome, reply = OVER_QUOTA, Reply(200, responses.error_body(responses.OVER_QUOTA))
        elif verdict.fault != NO_FAULT:
            outcome, reply = FAULT, _fault_reply(verdict.fault, verdict.status)
        else:
            outcome, reply = ANSWERED, self.api.answer(parsed, now)
        self.served.request(token, outcome)
        return Answer(reply, verdict.delay_seconds, now)

    def delivered(self, answer: Answer) -> None:
        """The answer was written to the connection: record the reading it carried."""
        if answer.reply is not None and answer.reply.served_reading is not None:
            idx, observed_at = answer.reply.served_reading
            self.served.reading(idx, observed_at, answer.now)


@dataclass(frozen=True)
class Answer:
    reply: Reply | None  # None: close the connection without a response
    delay_seconds: float  # added latency, before the reply is written
    now: float  # simulated time the request was answered at


def _nginx_error(status: int) -> Reply:
    return Reply(status, responses.nginx_page(status), content_type=HTML_TYPE, from_app=False)


def _fault_reply(fault: str, status: int) -> Reply:
    if fault == SERVER_ERROR:
        return _nginx_error(status)
    if fault == EMPTY_BODY:
        return Reply(200, b"")
    if fault == NOT_JSON:
        return Reply(200, responses.maintenance_page(), content_type=HTML_TYPE)
    raise ValueError(f"unknown fault {fault!r}")


class WaqiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop promptly; handler threads die with the process
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], simulator: WaqiSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request: object, client_address: object) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return  # the client went away; nothing to report
        print(f"WAQI simulator: error while answering a request: {error!r}", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True  # small answers must not wait for delayed ACKs
    timeout = 75  # nginx's keepalive_timeout: idle connections are closed after 75 s
    server: WaqiHttpServer

    def version_string(self) -> str:
        return "nginx"  # also in http.server's own error answers (bad request lines, HEAD)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header tells the simulated time: the API's own clock."""
        if timestamp is None:
            timestamp = self.server.simulator.clock.now()
        return super().date_time_string(timestamp)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        started = time.perf_counter()
        simulator = self.server.simulator
        parts = urlsplit(self.path)
        body = self._read_body()
        if parts.path == "/admin" or parts.path.startswith("/admin/"):
            status, value = simulator.admin.handle(
                method, parts.path, query_params(parts.query), body
            )
            self._send(Reply(status, responses.compact_json(value), from_app=False), started)
            return
        if method != "GET":
            self._send(_nginx_error(405), started)
            return
        answer = simulator.answer(self.path)
        if answer.delay_seconds:
            time.sleep(answer.delay_seconds)
        if answer.reply is None:
            self.close_connection = True  # the outage drops the connection unanswered
            self._log("-", 0)
            return
        self._send(answer.reply, started, answer.now)
        simulator.delivered(answer)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply, started: float, now: float | None = None) -> None:
        """Write `reply`, dated `now` (simulated; default: the clock now)."""
        reason = self.responses.get(reply.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {reply.status} {reason}",
            "Server: nginx",
            f"Date: {self.date_time_string(now)}",
        ]
        if reply.content_type:
            lines.append(f"Content-Type: {reply.content_type}")
        lines.append(f"Content-Length: {len(reply.body)}")
        lines.append("Connection: close" if self.close_connection else "Connection: keep-alive")
        if reply.location:
            lines.append(f"Location: {reply.location}")
        if reply.content_type == JSON_TYPE:
            lines += ["Vary: Accept-Encoding", "Access-Control-Allow-Origin: *"]
        if reply.from_app:
            microseconds = (time.perf_counter() - started) * 1e6
            # The real header carries a UTF-8 "µ" (Python clients read it as "Âµs").
            lines += [f"X-Gen-Time: {microseconds:.3f}µs", f"X-Powered-By: {POWERED_BY}"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        self.wfile.write(head + reply.body)
        self._log(str(reply.status), len(reply.body))

    def _log(self, status: str, size: int) -> None:
        if self.server.simulator.access_log:
            line = f'{self.address_string()} "{self.requestline}" {status} {size}'
            sys.stderr.write(redact(line) + "\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # http.server's own messages (malformed requests) only with -v, never with a token.
        if self.server.simulator.access_log:
            sys.stderr.write(redact(format % args) + "\n")
