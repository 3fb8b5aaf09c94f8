"""Windowed air-quality figures as streams (aggregator.py): the EPA maths and its wiring.

epa (the AQI table, the equation, categories, the NowCast: pure), localday (a reading's
local day and its place on the station's wall clock: pure), daily (what a day window
holds and the daily record it becomes: pure), nowcast (a station's last 12 hours and the
NowCast and alert records: pure), outputs (the three record kinds on the wire), closing
(the local-day window and how quiet stations' days close), app (the Quix Streams
application that wires them).
"""
