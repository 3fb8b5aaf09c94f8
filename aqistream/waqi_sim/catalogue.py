"""The simulated stations: the 9 Swiss cities, N generated ones around the world, and lookups.

Everything here is fixed when the simulator starts and is pure: the same seed and count give
the same stations, and a smaller count gives a prefix of a larger one. What a station measures
over time lives in world.py.

Generated stations alternate: every even one is an official station that reports, every odd
one is mostly a crowd (negative idx) sensor, with a fixed share of the quirky kinds WAQI serves
(stale, aqi "-", time {tz, v:0}), so even a small --stations count has every kind.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aqistream.waqi_sim.localtime import AU_DST, EU_DST, NO_DST, US_DST

OFFICIAL = "official"
CROWD = "crowd"

# What a station's feed looks like over time (see world.py).
REPORTING = "reporting"  # a new reading every hour
STALE = "stale"  # time frozen days ago, aqi "-", still status "ok"
UNRATED = "unrated"  # current time and iaqi values, but aqi "-"
NO_TIME = "no_time"  # time is only {tz, v: 0}, aqi "-", weather keys only
STATUSES = (REPORTING, STALE, UNRATED, NO_TIME)

WAQI_ATTRIBUTION = {"url": "https://waqi.info/", "name": "World Air Quality Index Project"}

FIRST_OFFICIAL_IDX = 12000
FIRST_CROWD_NUMBER = 150000
MAX_GENERATED = 100_000


@dataclass(frozen=True, slots=True, eq=False)
class Station:
    idx: int
    name: str
    geo: tuple[float, float]
    url: str
    location: str  # "" for official stations, a street address for crowd ones
    country: str  # ISO 3166 code, as in search results
    network: str  # OFFICIAL or CROWD
    status: str  # one of STATUSES
    attributions: tuple[dict[str, str], ...]
    std_offset_minutes: int
    dst_rule: str
    report_second: int  # a new reading appears this many seconds after each UTC hour
    sync_delay: int  # debug.sync: seconds after each UTC hour at which WAQI synced the station
    pollutants: tuple[str, ...]  # iaqi pollutant keys
    weather: tuple[str, ...]  # iaqi weather keys
    pm25_level: float  # typical PM2.5, µg/m³
    coarse_ratio: float  # PM10 / PM2.5
    o3_level: float  # typical afternoon O3, ppb
    no2_level: float  # typical NO2, ppb
    hotspot: bool  # now and then reports aqi above 500
    uvi_forecast: str  # "none", "current" or "stale"
    forecast_days: int
    aliases: tuple[str, ...] = ()  # more names /feed/{name}/ resolves, e.g. "Geneva"

    @property
    def is_crowd(self) -> bool:
        return self.network == CROWD

    @property
    def search_url(self) -> str:
        """The short url of search results: 'netherland/utrecht/griftpark'."""
        return (
            self.url.removeprefix("https://aqicn.org/city/")
            .removeprefix("https://aqicn.org/")
            .strip("/")
        )


def name_key(text: str) -> str:
    """Lowercase letters and digits only, accents dropped: 'St. Gallen' and 'st-gallen' match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed.casefold() if char.isalnum())


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


# --- the 9 Swiss cities of the original project -------------------------------------------

_BAFU = {
    "url": "https://www.bafu.admin.ch/bafu/en/home/topics/air.html",
    "name": "Swiss Federal Office for the Environment (FOEN/BAFU/OFEV)",
    "logo": "Switzerland-BAFU.png",
}
_OSTLUFT = {"url": "https://www.ostluft.ch/", "name": "OSTLUFT"}
_GENEVE = {"url": "https://www.ge.ch/air", "name": "République et canton de Genève - SABRA"}

# idx, name, (lat, lng), url path under /city/switzerland/, aliases, extra attribution
# fmt: off
_SWISS = (
    (5419, "Zürich-Kaserne, Switzerland", (47.377, 8.530), "zurich/kaserne/",
     ("Zurich", "Zuerich", "Zürich"), None),
    (5413, "Genève-Necker, Switzerland", (46.2081, 6.1405), "geneve/necker/",
     ("Geneva", "Genève", "Geneve", "Genf"), _GENEVE),
    (5411, "Basel-St. Johann, Switzerland", (47.5651, 7.5806), "basel/st-johann/",
     ("Basel", "Bâle"), None),
    (5414, "Lausanne-César-Roux, Switzerland", (46.5219, 6.6398), "lausanne/cesar-roux/",
     ("Lausanne",), None),
    (5412, "Bern-Bollwerk, Switzerland", (46.951, 7.4387), "bern/bollwerk/",
     ("Bern", "Berne"), None),
    (5421, "Winterthur-Obertor, Switzerland", (47.4995, 8.7303), "winterthur/obertor/",
     ("Winterthur",), _OSTLUFT),
    (5422, "St. Gallen-Blumenbergplatz, Switzerland", (47.4284, 9.3767),
     "st.-gallen/blumenbergplatz/",
     ("St. Gallen", "Sankt Gallen", "Saint-Gall", "Saint-Gallen"), _OSTLUFT),
    (5415, "Lugano-Università, Switzerland", (46.0109, 8.9575), "lugano/universita/",
     ("Lugano",), None),
    (5416, "Neuchâtel-Jeunes-Rives, Switzerland", (46.9936, 6.9378), "neuchatel/jeunes-rives/",
     ("Neuchâtel", "Neuchatel", "Neuenburg"), None),
)
# fmt: on

ZURICH_IDX = 5419


def swiss_stations() -> list[Station]:
    """The 9 Swiss cities: official, always reporting, no quirks (the demo's stations)."""
    stations = []
    for position, (idx, name, geo, path, aliases, extra) in enumerate(_SWISS):
        attributions = (_BAFU,) + ((extra,) if extra else ()) + (WAQI_ATTRIBUTION,)
        stations.append(
            Station(
                idx=idx,
                name=name,
                geo=geo,
                url=f"https://aqicn.org/city/switzerland/{path}",
                location="",
                country="CH",
                network=OFFICIAL,
                status=REPORTING,
                attributions=attributions,
                std_offset_minutes=60,
                dst_rule=EU_DST,
                report_second=0,
                sync_delay=1500 + 97 * position,
                pollutants=("no2", "o3", "pm10", "pm25"),
                weather=("h", "p", "t", "w"),
                pm25_level=9.0 + position % 4,
                coarse_ratio=1.5,
                o3_level=34.0,
                no2_level=14.0 + 2 * (position % 3),
                hotspot=False,
                uvi_forecast="current",
                forecast_days=7,
                aliases=aliases,
            )
        )
    return stations


# --- generated stations ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    country: str  # as written at the end of station names
    code: str
    url_path: str  # aqicn.org/city/<url_path>/...
    std_offset_minutes: int
    dst_rule: str
    centre: tuple[float, float]
    spread: float  # degrees
    cities: tuple[str, ...]
    pm25_level: float
    agency: dict[str, str]
    polluted: bool = False
    weatherless_share: float = 0.0  # share of official stations without t/h/p/w (as in India)


def _agency(name: str, url: str, logo: str | None = None) -> dict[str, str]:
    return {"url": url, "name": name} | ({"logo": logo} if logo else {})


_AIR_NOW = _agency("Air Now - US EPA", "http://www.airnow.gov/", "US-EPA.png")
_CPCB = _agency(
    "CPCB - India Central Pollution Control Board", "http://cpcb.nic.in/", "India-CPCB.png"
)

# fmt: off
_REGIONS = (
    _Region("Netherlands", "NL", "netherland", 60, EU_DST, (52.1, 5.2), 0.8,
            ("Utrecht", "Amsterdam", "Rotterdam", "Eindhoven", "Groningen"), 11,
            _agency("RIVM - Rijksinstituut voor Volksgezondheid en Milieu, Landelijk Meetnet "
                    "Luchtkwaliteit", "http://www.luchtmeetnet.nl/", "Netherland-RIVM.png")),
    _Region("United Kingdom", "GB", "united-kingdom", 0, EU_DST, (52.5, -1.5), 2.5,
            ("London", "Manchester", "Birmingham", "Leeds", "Glasgow"), 10,
            _agency("UK-AIR, air quality information resource - Defra, UK",
                    "http://uk-air.defra.gov.uk/",
                    "UK-Department-for-environment-food-and-rural-affairs.png")),
    _Region("Germany", "DE", "germany", 60, EU_DST, (51.0, 10.0), 3.0,
            ("Berlin", "Hamburg", "München", "Köln", "Frankfurt"), 11,
            _agency("Umweltbundesamt", "https://www.umweltbundesamt.de/", "Germany-UBA.png")),
    _Region("France", "FR", "france", 60, EU_DST, (46.6, 2.5), 3.5,
            ("Paris", "Lyon", "Marseille", "Toulouse", "Lille"), 11,
            _agency("Atmo France", "https://www.atmo-france.org/", "France-Atmo.png")),
    _Region("Spain", "ES", "spain", 60, EU_DST, (40.3, -3.7), 3.0,
            ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao"), 10,
            _agency("Ministerio para la Transición Ecológica", "https://www.miteco.gob.es/")),
    _Region("Italy", "IT", "italy", 60, EU_DST, (43.5, 11.5), 3.0,
            ("Milano", "Roma", "Torino", "Napoli", "Bologna"), 15,
            _agency("ISPRA - Istituto Superiore per la Protezione e la Ricerca Ambientale",
                    "https://www.isprambiente.gov.it/")),
    _Region("Poland", "PL", "poland", 60, EU_DST, (52.0, 19.5), 2.5,
            ("Warszawa", "Kraków", "Wrocław", "Łódź", "Gdańsk"), 22,
            _agency("Główny Inspektorat Ochrony Środowiska", "https://powietrze.gios.gov.pl/",
                    "Poland-GIOS.png")),
    _Region("Finland", "FI", "finland", 120, EU_DST, (62.0, 25.5), 2.5,
            ("Helsinki", "Tampere", "Turku", "Oulu", "Nastola"), 6,
            _agency("Ilmanlaatu - Air Quality in finland", "http://www.ilmanlaatu.fi/",
                    "Finland-ilmanlaatu.png")),
    _Region("USA", "US", "usa", -300, US_DST, (40.0, -77.0), 4.0,
            ("New York", "Philadelphia", "Boston", "Washington", "Atlanta"), 8,
            _AIR_NOW),
    _Region("USA", "US", "usa", -360, US_DST, (38.5, -92.0), 5.0,
            ("Chicago", "St. Louis", "Kansas City", "Minneapolis", "Dallas"), 8,
            _AIR_NOW),
    _Region("USA", "US", "usa", -480, US_DST, (37.0, -120.5), 4.0,
            ("Los Angeles", "San Francisco", "Seattle", "Portland", "Fresno"), 10,
            _AIR_NOW),
    _Region("Hawaii, USA", "US", "usa/hawaii", -600, NO_DST, (21.3, -157.9), 0.5,
            ("Honolulu", "Kapolei", "Pearl City"), 4,
            _agency("State of Hawaii, Department of Health, Clean Air Branch",
                    "http://health.hawaii.gov/cab/", "US-Hawaii.png")),
    _Region("British Columbia, Canada", "CA", "canada/british-columbia", -480, US_DST,
            (49.25, -123.0), 0.8, ("Vancouver", "Burnaby", "Richmond", "Surrey"), 7,
            _agency("British Columbia Ministry of Environment", "https://www2.gov.bc.ca/")),
    _Region("Mexico", "MX", "mexico", -360, NO_DST, (19.4, -99.1), 1.5,
            ("Ciudad de México", "Puebla", "Toluca"), 22,
            _agency("SINAICA - Sistema Nacional de Información de la Calidad del Aire",
                    "https://sinaica.inecc.gob.mx/")),
    _Region("Brazil", "BR", "brazil", -180, NO_DST, (-23.5, -46.6), 2.0,
            ("São Paulo", "Campinas", "Santos", "Rio de Janeiro"), 15,
            _agency("CETESB", "https://cetesb.sp.gov.br/", "Brazil-CETESB.png")),
    _Region("Chile", "CL", "chile", -240, NO_DST, (-33.45, -70.65), 1.0,
            ("Santiago", "Valparaíso", "Rancagua"), 25,
            _agency("SINCA - Sistema de Información Nacional de Calidad del Aire",
                    "https://sinca.mma.gob.cl/")),
    _Region("China", "CN", "china", 480, NO_DST, (39.9, 116.4), 3.0,
            ("Beijing (北京)", "Tianjin (天津)", "Shijiazhuang (石家庄)", "Baoding (保定)"), 55,
            _agency("China National Environmental Monitoring Centre (中国环境监测总站)",
                    "http://www.cnemc.cn/", "China-CNEMC.png"), polluted=True),
    _Region("China", "CN", "china", 480, NO_DST, (23.1, 113.3), 2.5,
            ("Guangzhou (广州)", "Shenzhen (深圳)", "Foshan (佛山)", "Dongguan (东莞)"), 30,
            _agency("Guangdong Environmental Monitoring Center", "http://www-app.gdeei.cn/")),
    _Region("Japan", "JP", "japan", 540, NO_DST, (36.0, 138.5), 4.0,
            ("Tokyo", "Osaka", "Nagoya", "Sapporo", "Fukuoka"), 10,
            _agency("Japan Atmospheric Environmental Regional Observation System "
                    "(環境省大気汚染物質広域監視システム)", "https://soramame.env.go.jp/",
                    "Japan-Soramame.png")),
    _Region("South Korea", "KR", "korea", 540, NO_DST, (36.5, 127.8), 1.8,
            ("Seoul", "Busan", "Incheon", "Daegu"), 22,
            _agency("Korea Environment Corporation", "https://www.airkorea.or.kr/",
                    "Korea-AirKorea.png")),
    _Region("India", "IN", "india", 330, NO_DST, (28.6, 77.2), 3.0,
            ("Delhi", "Bathinda", "Lucknow", "Kanpur", "Jaipur"), 95,
            _CPCB, polluted=True, weatherless_share=0.4),
    _Region("India", "IN", "india", 330, NO_DST, (15.0, 77.5), 4.0,
            ("Bengaluru", "Chennai", "Hyderabad", "Mumbai", "Pune"), 45,
            _CPCB, weatherless_share=0.4),
    _Region("Iran", "IR", "iran", 210, NO_DST, (35.7, 51.4), 3.0,
            ("Tehran", "Karaj", "Isfahan", "Mashhad", "Birjand"), 40,
            _agency("Iran Air Quality Monitoring (Department of Environment)",
                    "https://aqms.doe.ir/"), polluted=True),
    _Region("Afghanistan", "AF", "afghanistan", 270, NO_DST, (34.5, 69.2), 1.0,
            ("Kabul", "Jalalabad"), 60,
            _agency("US Embassy Kabul Air Quality Monitor", "https://af.usembassy.gov/")),
    _Region("Sri Lanka", "LK", "sri-lanka", 330, NO_DST, (6.9, 79.9), 0.8,
            ("Colombo", "Kandy"), 20,
            _agency("Central Environmental Authority", "https://www.cea.lk/")),
    _Region("Thailand", "TH", "thailand", 420, NO_DST, (14.5, 100.8), 3.0,
            ("Bangkok", "Chiang Mai", "Khon Kaen"), 28,
            _agency("Pollution Control Department", "http://air4thai.pcd.go.th/",
                    "Thailand-PCD.png")),
    _Region("Indonesia", "ID", "indonesia", 420, NO_DST, (-6.4, 106.8), 1.5,
            ("Jakarta", "Bogor", "Bandung"), 35,
            _agency("BMKG - Badan Meteorologi, Klimatologi, dan Geofisika",
                    "https://www.bmkg.go.id/")),
    _Region("Philippines", "PH", "philippines", 480, NO_DST, (14.6, 121.0), 1.5,
            ("Manila", "Quezon City", "Davao City"), 18,
            _agency("Environmental Management Bureau", "https://air.emb.gov.ph/")),
    _Region("Australia", "AU", "australia/nsw", 600, AU_DST, (-33.8, 151.0), 0.8,
            ("Sydney", "Newcastle", "Wollongong"), 7,
            _agency("Office of Environment and Heritage - NSW",
                    "https://www.environment.nsw.gov.au/", "Australia-NSW.png")),
    _Region("South Africa", "ZA", "south-africa", 120, NO_DST, (-26.2, 28.0), 1.5,
            ("Johannesburg", "Pretoria", "Vereeniging"), 25,
            _agency("South African Air Quality Information System",
                    "https://saaqis.environment.gov.za/")),
    _Region("Nigeria", "NG", "nigeria", 60, NO_DST, (6.5, 3.4), 1.5,
            ("Lagos", "Ibadan", "Abuja"), 55,
            _agency("US Consulate Lagos Air Quality Monitor", "https://ng.usembassy.gov/"),
            polluted=True),
    _Region("Kenya", "KE", "kenya", 180, NO_DST, (-1.3, 36.8), 1.0,
            ("Nairobi", "Nakuru"), 20,
            _agency("Kenya Environment Agency", "https://www.nema.go.ke/")),
    _Region("Turkey", "TR", "turkey", 180, NO_DST, (39.5, 32.0), 3.0,
            ("Ankara", "İstanbul", "İzmir"), 25,
            _agency("Ulusal Hava Kalitesi İzleme Ağı", "https://sim.csb.gov.tr/")),
    _Region("Russia", "RU", "russia", 180, NO_DST, (55.75, 37.6), 2.0,
            ("Moscow", "Tver", "Tula"), 12,
            _agency("Mosecomonitoring", "https://mosecom.mos.ru/")),
)
# fmt: on

_HALF_HOUR_REGIONS = tuple(r for r in _REGIONS if r.std_offset_minutes % 60)
_POLLUTED_REGIONS = tuple(r for r in _REGIONS if r.polluted)

# A second agency, sometimes with the stray spaces WAQI really serves (" Provincie Noord Brabant ").
# fmt: off
_LOCAL_AGENCIES = (
    {"url": "http://www.brabantluchtmeet.net/", "name": " Provincie Noord Brabant "},
    {"url": "https://londonair.org.uk/", "name": "London Air Quality Network - Environmental "
     "Research Group, King's College London", "logo": "UK-London-Kings-College.png"},
    {"url": "http://www.kentair.org.uk/", "name": "Air Quality in Kent and Medway"},
    {"url": "https://www.airparif.asso.fr/", "name": "Airparif"},
)

_CROWD_NETWORKS = (
    {"url": "https://www.purpleair.com/", "name": "Purple Air"},
    {"url": "https://sensor.community/", "name": "Sensor.Community"},
    {"url": "https://www.airgradient.com/", "name": "AirGradient"},
)

_SITES = (
    "Central", "North", "South", "East", "West", "Harbour", "Riverside", "Old Town",
    "University", "Airport", "Railway Station", "Market", "Hospital", "Stadium",
    "Industrial Zone", "City Hall", "Cathedral", "Lakeside", "Hilltop", "Garden", "Castle",
    "Bridge", "Mill", "Port", "Chapel", "Meadow", "Forest", "Bay", "Valley", "Ring Road",
    "Motorway", "Library", "Museum", "Zoo", "Observatory", "Power Plant", "Water Works",
    "Fire Station", "Exhibition Centre", "Ley Street",
)
_SITE_KINDS = (
    "", " Roadside", " Background", " Road", " Street", " Park", " School", " Square",
    " Avenue", " Kerbside", " Urban", " Suburban",
)
_STREETS = (
    "Main Street", "Station Road", "Church Lane", "Park Avenue", "Mill Road", "High Street",
    "Market Street", "Lake View", "Garden Way", "School Street", "River Road", "Hill Street",
    "Oak Avenue", "Elm Street", "Bridge Street", "Kirchweg", "Rue de la Paix", "Via Roma",
    "Calle Mayor", "Dorpsstraat", "Terry Avenue", "Anthonie van Dijckstraat",
)
_DISTRICTS = (
    "Old Town", "Northside", "Westend", "Riverside", "Hillcrest", "Lakeside", "Centre",
    "Eastgate", "Southfield", "Parkview", "Belltown", "Stadsoevers",
)
_CROWD_WORDS = (
    ("Solar", "Meteo", "Garden", "Home", "Building", "Roof", "Balcony", "School", "Farm",
     "Office", "Lab", "Studio", "Villa", "Cabin", "Harbour", "Bakery"),
    ("Cure", "Station", "Sensor", "Watch", "Point", "North", "West", "Hill", "Lake", "Park",
     "Air", "View"),
)
_OFFICIAL_POLLUTANT_SHARES = (
    ("pm25", 0.9), ("pm10", 0.85), ("o3", 0.75), ("no2", 0.75), ("so2", 0.35), ("co", 0.35),
)
# fmt: on


def generate_stations(seed: int, count: int) -> list[Station]:
    """`count` stations spread over the world; station i is the same for any count > i."""
    if not 0 <= count <= MAX_GENERATED:
        raise ValueError(f"station count must be between 0 and {MAX_GENERATED}")
    taken: set[str] = set()
    stations = []
    for position in range(count):
        rng = random.Random(f"waqi-sim:{seed}:station:{position}")
        if position % 2 == 0:
            station = _official(rng, position, REPORTING, taken)
        else:
            station = _odd_station(rng, position, taken)
        stations.append(station)
    return stations


def _odd_station(rng: random.Random, position: int, taken: set[str]) -> Station:
    """Odd positions: mostly crowd sensors, with every quirky kind in each run of 20."""
    kind = (position // 2) % 20
    if kind == 0:
        return _official(rng, position, STALE, taken)
    if kind == 1:
        return _official(rng, position, NO_TIME, taken)
    if kind == 2:
        return _official(rng, position, UNRATED, taken)
    if kind == 3:
        return _crowd(rng, position, STALE, taken)
    if kind == 4:
        return _crowd(rng, position, UNRATED, taken)
    return _crowd(rng, position, REPORTING, taken)


def _official(rng: random.Random, position: int, status: str, taken: set[str]) -> Station:
    pair = position // 2
    hotspot = status == REPORTING and pair % 25 == 3
    if hotspot:
        region = rng.choice(_POLLUTED_REGIONS)
    elif status == REPORTING and pair % 10 == 5:
        region = rng.choice(_HALF_HOUR_REGIONS)  # reports at :30 UTC
    else:
        region = rng.choice(_REGIONS)
    city = rng.choice(region.cities)
    site = rng.choice(_SITES) + rng.choice(_SITE_KINDS)
    name = _unique(f"{site}, {city}, {region.country}", taken)
    url = f"https://aqicn.org/city/{region.url_path}/{slug(city)}/{slug(name.split(',')[0])}"

    pollutants = {p for p, share in _OFFICIAL_POLLUTANT_SHARES if rng.random() < share}
    if hotspot or not pollutants & {"pm25", "pm10"}:
        pollutants |= {"pm25", "pm10"}
    weatherless = rng.random() < region.weatherless_share
    weather = () if weatherless else ("h", "p", "t", "w")
    weather += tuple(key for key in ("wg", "dew") if not weatherless and rng.random() < 0.4)

    attributions = [region.agency]
    if rng.random() < 0.2:
        attributions.append(rng.choice(_LOCAL_AGENCIES))
    return Station(
        idx=FIRST_OFFICIAL_IDX + position,
        name=name,
        geo=_place(rng, region),
        url=url,
        location="",
        country=region.code,
        network=OFFICIAL,
        status=status,
        attributions=(*attributions, WAQI_ATTRIBUTION),
        std_offset_minutes=region.std_offset_minutes,
        dst_rule=region.dst_rule,
        # Official stations report on the local hour: :30 UTC in +05:30 or +03:30.
        report_second=(-region.std_offset_minutes % 60) * 60,
        sync_delay=rng.randrange(300, 3300),
        pollutants=tuple(sorted(pollutants)),
        weather=tuple(sorted(weather)),
        pm25_level=region.pm25_level * rng.uniform(0.6, 1.5),
        coarse_ratio=rng.uniform(1.2, 2.2),
        o3_level=rng.uniform(22, 48),
        no2_level=rng.uniform(6, 30),
        hotspot=hotspot,
        uvi_forecast=rng.choice(("none", "none", "current", "current", "stale")),
        forecast_days=rng.randint(5, 8),
    )


def _crowd(rng: random.Random, position: int, status: str, taken: set[str]) -> Station:
    region = rng.choice(_REGIONS)
    number = FIRST_CROWD_NUMBER + position
    style = rng.random()
    if style < 0.4:
        base = f"{rng.choice(_CROWD_WORDS[0])} {rng.choice(_CROWD_WORDS[1])}"
    elif style < 0.7:
        base = f"AQ-{rng.randrange(0x10000, 0x100000):X}"
    else:
        base = f"{rng.choice(_STREETS)} {rng.randint(1, 250)}"
    city = rng.choice(region.cities)
    location = (
        f"{rng.choice(_STREETS)}, {rng.choice(_DISTRICTS)}, {city}, "
        f"{rng.randint(1000, 99999)}, {region.country}"
    )
    network = rng.choice(_CROWD_NETWORKS)
    sensor = {**network, "station": str(rng.randint(10000, 199999))}
    return Station(
        idx=-number,
        name=_unique(base, taken),
        geo=_place(rng, region),
        url=f"https://aqicn.org/station/@{number}",
        location=location,
        country=region.code,
        network=CROWD,
        status=status,
        attributions=(sensor, WAQI_ATTRIBUTION),
        std_offset_minutes=region.std_offset_minutes,
        dst_rule=region.dst_rule,
        report_second=rng.randrange(3600),  # crowd sensors upload at arbitrary seconds
        sync_delay=0,
        pollutants=("pm10", "pm25"),
        weather=("h", "t"),
        pm25_level=region.pm25_level * rng.uniform(0.5, 1.8),
        coarse_ratio=rng.uniform(1.05, 1.4),
        o3_level=0.0,
        no2_level=0.0,
        hotspot=False,
        uvi_forecast="none",
        forecast_days=0,
    )


def _place(rng: random.Random, region: _Region) -> tuple[float, float]:
    lat = region.centre[0] + rng.uniform(-region.spread, region.spread)
    lng = region.centre[1] + rng.uniform(-region.spread, region.spread)
    return round(lat, 6), round(lng, 6)


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name #2`, `#3`... when another station already answers to it."""
    candidate, number = name, 1
    while name_key(candidate) in taken:
        number += 1
        head, _, tail = name.partition(",")
        candidate = f"{head} #{number}" + (f",{tail}" if tail else "")
    taken.add(name_key(candidate))
    return candidate


# --- lookups -----------------------------------------------------------------------------------


def _always(station: Station) -> bool:
    return True


class Catalogue:
    """All stations, found by idx, by name, by keyword, by box or by nearness."""

    def __init__(self, stations: Iterable[Station]) -> None:
        self.stations: tuple[Station, ...] = tuple(stations)
        self._by_idx = {station.idx: station for station in self.stations}
        if len(self._by_idx) != len(self.stations):
            raise ValueError("two stations share an idx")
        self._by_name: dict[str, Station] = {}
        self._search_keys: list[tuple[str, Station]] = []
        for station in self.stations:
            keys = _lookup_keys(station)
            for key in keys:
                self._by_name.setdefault(key, station)
            self._search_keys.append(("|".join(keys), station))
        # WAQI's geo: answers with the nearest official station that has a current aqi.
        self._geo_candidates = [
            (station.geo[0], station.geo[1], station)
            for station in self.stations
            if station.network == OFFICIAL and station.status == REPORTING
        ]

    def by_idx(self, idx: int) -> Station | None:
        return self._by_idx.get(idx)

    def by_name(self, text: str) -> Station | None:
        key = name_key(text)
        return self._by_name.get(key) if key else None

    @property
    def here(self) -> Station:
        """/feed/here/ geolocates the caller's IP; the simulator always says Zurich."""
        return self._by_idx[ZURICH_IDX]

    def search(
        self, keyword: str, limit: int, present: Callable[[Station], bool] = _always
    ) -> list[Station]:
        key = name_key(keyword)
        if not key:
            return []
        exact = self._by_name.get(key)
        found = [exact] if exact and present(exact) else []
        for keys, station in self._search_keys:
            if len(found) >= limit:
                break
            if key in keys and station is not exact and present(station):
                found.append(station)
        return found[:limit]

    def nearest_reporting(
        self, lat: float, lng: float, present: Callable[[Station], bool] = _always
    ) -> Station:
        """The nearest official station that reports; any coordinates are accepted, even nan."""
        scale = math.cos(math.radians(lat)) if math.isfinite(lat) else 1.0
        best, best_distance = self.here, math.inf
        for station_lat, station_lng, station in self._geo_candidates:
            east = (station_lng - lng + 180.0) % 360.0 - 180.0
            distance = (station_lat - lat) ** 2 + (east * scale) ** 2
            if distance < best_distance and present(station):
                best, best_distance = station, distance
        return best


def _lookup_keys(station: Station) -> tuple[str, ...]:
    """Names a /feed/{name}/ request may use: the station name, its url path, its aliases."""
    texts = (station.name, station.search_url, *station.aliases)
    keys = dict.fromkeys(name_key(text) for text in texts)
    return tuple(key for key in keys if key)


def build_catalogue(seed: int, generated: int) -> Catalogue:
    """The Swiss 9 plus `generated` stations around the world."""
    return Catalogue([*swiss_stations(), *generate_stations(seed, generated)])


def stations_of(catalogue: Catalogue, **wanted: str) -> list[Station]:
    """Stations whose fields equal `wanted`, e.g. stations_of(c, network=CROWD, status=STALE)."""
    return [
        station
        for station in catalogue.stations
        if all(getattr(station, name) == value for name, value in wanted.items())
    ]
