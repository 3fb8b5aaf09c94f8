"""A local, faithful simulator of the WAQI JSON API (api.waqi.info), for offline runs and tests.

Run it with `python -m aqistream.waqi_sim` (see --help). It answers like the real service,
quirks included (shared/waqi/API.md sections 2 to 9), for the 9 Swiss cities of the original
project plus --stations N generated stations around the world, on a simulated clock.

Modules: catalogue (the stations), world (their readings over time), epa_scale (US-EPA
sub-indices), localtime (offsets and WAQI's time strings), responses (WAQI's bodies), api
(WAQI's routes), clock, quota, faults, served (the record of what was served), admin (the
/admin endpoint), server (HTTP), __main__ (the command line).

WAQI endpoints (token in ?token=, trailing slash optional):
  /feed/{name}/            a Swiss city ('zurich', 'Zürich', 'st-gallen'...) or a station name
  /feed/@{idx}/            an official station; a crowd station's number gets {"msg":"Unknown ID"}
  /feed/A{n}/, /feed/@-{n}/   a crowd station (idx -n); an official id gets "no such station"
  /feed/geo:{lat};{lng}/   the nearest official station that reports
  /feed/here/              always Zürich-Kaserne (5419)
  /search/?keyword=        up to 100 stations whose name contains the keyword
  /map/bounds/?latlng=lat1,lng1,lat2,lng2          official stations in the box
  /v2/map/bounds?latlng=...&networks=all|official  all (default) or official stations
Official stations publish on the simulated hour (at :30 UTC in +05:30/+03:30 zones), crowd
stations once an hour at their own second. Same --seed, same station, same simulated time:
same body.

Admin endpoint (no token, no quota, no faults; JSON in and out; errors are
{"error": "..."} with status 400, 404 or 405):
  GET    /admin                 the list of admin endpoints
  GET    /admin/clock           {"now": "2026-11-23T13:20:00Z", "epoch": 1795440000.0,
                                 "start": "...Z", "hour_seconds": 3600.0, "speed": 1.0}
  POST   /admin/clock           {"advance_hours": 1} | {"advance_seconds": 90} |
                                {"set": "2026-11-23T13:59:58Z"}   -> same as GET
  GET    /admin/faults          {"latency_ms": 0.0, "jitter_ms": 0.0, "error_rate": 0.0,
                                 "empty_rate": 0.0, "nonjson_rate": 0.0,
                                 "outage_mode": "503", "outage_seconds_left": 0.0}
  POST   /admin/faults          any of latency_ms, jitter_ms, error_rate, empty_rate,
                                nonjson_rate, outage_seconds (simulated seconds from now;
                                0 ends it), outage_mode ("503" or "close") -> same as GET
  DELETE /admin/faults          all faults off -> same as GET
  GET    /admin/quota           {"per_minute": 1000.0, "burst": 60, "enabled": true}
  POST   /admin/quota           {"per_minute": 120, "burst": 5} (0 per minute: off); refills
  GET    /admin/served[?idx=N]  what was served (below)
  POST   /admin/reset           forget readings served and request counts, refill quotas
  GET    /admin/stations[?network=official|crowd][&status=reporting|stale|unrated|no_time]
                        [&limit=N]  {"count": 3, "stations": [{"idx": -150007, "name": ...,
                                 "network": "crowd", "status": "stale",
                                 "feed": "/feed/A150007/", "geo": [lat, lng],
                                 "report_second": 573, "hotspot": false}, ...]}

GET /admin/served:
  {"now": "2026-11-23T14:20:05Z",
   "readings": [                       one per distinct (idx, observed_at), sorted
     {"idx": 5419, "observed_at": "2026-11-23T13:00:00Z",      true UTC
      "first_served_at": "2026-11-23T13:20:00Z",               simulated time
      "first_served_wall": 1795481236.945, "times_served": 3}],  real Unix time (ms)
   "tokens": {"my-token": {"requests": 5, "answered": 3, "invalid_key": 0,
                           "over_quota": 1, "faults": 1, "nginx_replies": 0}},
   "totals": {"requests": 5, "answered": 3, ...}}
  A reading is recorded for every /feed/ answer with status "ok" and a usable time (not the
  time-less {tz, v:0} stations), once the answer is written to the connection; faulted
  answers carry no reading. Requests without a token
  count under "(no token)". nginx_replies: the 301, the HTML 404 and the "message: 404".
"""
