"""The US-EPA AQI scale the simulator reports on, as WAQI does in `iaqi`.

One table for the whole project: aqistream/windows/epa.py (EPA's breakpoints, cited there),
so what the simulator reports and what aggregator.py converts back can never drift apart.
"""

from __future__ import annotations

from aqistream.windows.epa import POLLUTANTS, sub_index
from aqistream.windows.epa import concentration_of as concentration_for

__all__ = ["POLLUTANTS", "concentration_for", "sub_index"]
