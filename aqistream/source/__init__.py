"""Where readings come from: the stations list, when to ask, the quota, the WAQI client."""
