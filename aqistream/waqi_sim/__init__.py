"""A local, faithful simulator of the WAQI JSON API (api.waqi.info), for offline runs and tests.

Run it with `python -m aqistream.waqi_sim` (see --help). It answers like the real service,
quirks included (shared/waqi/API.md sections 2 to 10), for the 9 Swiss cities of the original
project plus --stations N generated stations around the world, on a simulated clock.
`--stations 30000 --realistic` is the whole network: about 30,000 stations (43 % crowd),
each reading appearing after its station's publication lag, a few stations appearing and
vanishing during the run, and map answers thinned like WAQI's.

Modules: catalogue (the stations), world (their readings over time), publication (when a
reading appears: observation time plus lag), churn (stations appearing and vanishing),
availability (the record of when every reading appeared), spatial (the grid index behind
map/bounds), thinning (which stations a crowded map answer keeps), epa_scale (US-EPA
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
Official stations observe on the simulated hour (at :30 UTC in +05:30/+03:30 zones), crowd
stations once an hour at their own second. Same --seed, same station, same simulated time:
same body. Every answer's HTTP Date header is the simulated time (the API's own clock).

Map answers: items {"lat", "lon", "uid" (negative: crowd, fetched as /feed/A<-uid>/),
"aqi": "44" or "-", "station": {"name", "time": the feed's observation time written in
+09:00}}, in no documented order. A box holding more stations than the map cap (--map-cap,
1250 by default, like the 1,231 and 1,259 stations of real whole-world answers) lists only
about that many: the cap varies by up to 2 % (at least 1) with the box and the simulated
hour, and the stations kept are those of highest map_priority (fixed per station; official
stations are favoured, as in real answers), so a station kept in a box is kept in
every smaller box that holds it. Errors are HTTP 200: latlng without four numbers gets
{"status":"error","data":"invalid bounds"}, a part that is not a number
"invalid bounds: strconv.ParseFloat: parsing \"lol\": invalid syntax". Corner order does not
matter; coordinates out of range are answered, not rejected.

Network realism (off by default: readings then appear exactly at their observation time,
and no station appears or vanishes):
  --publication-lag   an official reading appears in /feed/, map and search answers only
                      after its station's publication lag (5 minutes to about 2 hours,
                      changing by up to about 10 minutes from hour to hour); a crowd
                      reading after about 30 s to 8 minutes. debug.sync is then the moment
                      the reading appeared. /admin/stations shows each station's lag_seconds.
  --churn F           a share F of the generated stations vanishes at moments spread over
                      the churn window, and as many new stations (idx after the last
                      generated one) appear in it. A vanished or not yet appeared station
                      answers like one WAQI does not know (@N: {"msg":"Unknown ID"}, A{n}:
                      "no such station", names: "Unknown station") and is in no map,
                      search or geo answer. The Swiss 9 never churn.
  --churn-hours H     the churn window: H simulated hours from --start (24)
  --realistic         --publication-lag and --churn 0.01 (unless --churn is given)
Everything is deterministic by --seed and --start.

Admin endpoint (no token, no quota, no faults; JSON in and out; errors are
{"error": "..."} with status 400, 404 or 405):
  GET    /admin                 the list of admin endpoints
  GET    /admin/clock           {"now": "2026-11-23T13:20:00Z", "epoch": 1795440000.0,
                                 "start": "...Z", "hour_seconds": 3600.0, "speed": 1.0,
                                 "wall": 1767000000.123}   (wall: real Unix time of "epoch")
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
  GET    /admin/map             {"cap": 1250, "variation": 0.02, "thinning": true}
  POST   /admin/map             {"cap": 40} (0: no thinning)   -> same as GET
  GET    /admin/served[?idx=N]  what was served (below)
  GET    /admin/available[...]  when every reading appeared (below)
  POST   /admin/reset           forget readings served and request counts, refill quotas
  GET    /admin/stations[?network=official|crowd][&status=reporting|stale|unrated|no_time]
                        [&present=true|false][&bounds=LAT1,LNG1,LAT2,LNG2][&limit=N]
                                {"count": 3, "stations": [{"idx": -150007, "name": ...,
                                 "network": "crowd", "status": "stale",
                                 "feed": "/feed/A150007/", "geo": [lat, lng],
                                 "report_second": 573, "hotspot": false,
                                 "lag_seconds": 2480, "map_priority": 0.73,
                                 "appears_at": null, "vanishes_at": "2026-11-24T02:11:09Z",
                                 "present": true}, ...]}
                                lag_seconds: the station's typical publication lag (0
                                without --publication-lag); appears_at/vanishes_at: null
                                when it does not churn; present: at the simulated time now.
                                Not yet appeared stations are listed too (present false).
  POST   /admin/stations        {"vanish": [idx, ...]} and/or {"appear": [idx, ...]}: now,
                                overriding the churn model (vanish cancels a planned
                                appearance, appear a planned vanishing) -> {"vanished": [...],
                                "appeared": [...]}; an idx the simulator never had is a 400

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

GET /admin/available[?from=ISO][&to=ISO][&idx=N,N,...][&network=official|crowd]
                    [&bounds=LAT1,LNG1,LAT2,LNG2][&format=runs|readings]:
  Every reading that appeared in the API (in /feed/ and map answers) at a simulated time
  in [from, to), whether or not anyone asked for it: computed from the model, so exact.
  from defaults to --start, to to now (and is never later than now). A reading appears at
  its observation time plus its publication lag; a station's reading current when it
  appears (churn) appears then; a stale station's reading appears when its frozen time
  jumps. Time-less stations ({tz, v:0}) have none.
  format=runs (the default; a few bytes a reading, so a simulated day of 30,000 stations
  is a few MB):
  {"from": "2026-11-23T13:20:00Z", "to": "2026-11-24T13:20:00Z", "count": 712345,
   "stations": 29712, "now": "...Z", "epoch": 1795526400.0, "wall": 1767000000.123,
   "speed": 720.0,
   "runs": [{"idx": 12000, "observed_at": 1795442400, "every": 3600,
             "lags": [2712, 2690, 2731]}, ...]}
    reading k of a run: observed_at + k * every (true UTC epoch seconds, as in the feed's
    time.iso), appeared at that plus lags[k]. Runs are sorted by idx, then time.
  format=readings (for small queries):
  {"from": ..., "to": ..., "count": 2, "stations": 1, "now": ..., "epoch": ..., "wall": ...,
   "speed": ...,
   "readings": [{"idx": 12000, "observed_at": "2026-11-23T14:00:00Z",
                 "available_at": "2026-11-23T14:45:12Z"}, ...]}
    observed_at is written as producer records write it, so sets of (idx, observed_at)
    compare directly with a topic's contents.
  epoch/wall/speed: the clock read when the answer was made; without clock jumps since, a
  simulated instant s happened at real time wall + (s - epoch) / speed.
"""
