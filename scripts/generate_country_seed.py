"""Generate `dbt_project/seeds/country_codes.csv` from pycountry (ISO 3166-1).

One row per lookup key: every ISO name, official name, common name, alpha-2 and alpha-3 code,
plus a short list of aliases seen in CADT data and its pick list (misspellings included). The key
is built exactly as the dbt macro `text_key()` builds it, so the join in dbt is a plain equality.

Run from the repository root:  .venv/bin/python scripts/generate_country_seed.py
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from pathlib import Path

import pycountry

SEED_PATH = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "country_codes.csv"

# Alias -> alpha-3. Spellings found in the CADT v1 pick list (`countries`) that ISO does not use,
# including its typos, plus common short forms. Everything else comes from pycountry.
ALIASES: dict[str, str] = {
    "Antigua and Barduba": "ATG",
    "Bolivia": "BOL",
    "Bosnia": "BIH",
    "Brunei": "BRN",
    "Burma": "MMR",
    "Cape Verde": "CPV",
    "Congo, Democratic Republic of the": "COD",
    "Cote d'Ivoire": "CIV",
    "Czech Republic": "CZE",
    "Democratic Republic of Congo": "COD",
    "Democratic Republic of the Congo": "COD",
    "DR Congo": "COD",
    "DRC": "COD",
    "Domincan Republic": "DOM",
    "East Timor": "TLS",
    "Equatorial New Guinea": "GNQ",
    "Guinea Bissau": "GNB",
    "Iran": "IRN",
    "Ivory Coast": "CIV",
    "Korea": "KOR",
    "Lao PDR": "LAO",
    "Laos": "LAO",
    "Macedonia": "MKD",
    "Micronesia": "FSM",
    "Moldova": "MDA",
    "North Korea": "PRK",
    "Palestine": "PSE",
    "Republic of Congo": "COG",
    "Republic of Korea": "KOR",
    "Republic of the Congo": "COG",
    "Russia": "RUS",
    "South Korea": "KOR",
    "State of Palestine": "PSE",
    "Swaziland": "SWZ",
    "Syria": "SYR",
    "Tanzania": "TZA",
    "The Former Yugoslav Republic of Macedonia": "MKD",
    "The Gambia": "GMB",
    "Turkey": "TUR",
    "Turkiye": "TUR",
    "UK": "GBR",
    "United States of America": "USA",
    "US": "USA",
    "USA": "USA",
    "Vatican": "VAT",
    "Venezuela": "VEN",
    "Vietnam": "VNM",
    "Kyrgyzstan": "KGZ",
    "Slovakia": "SVK",
    "The Bahamas": "BHS",
    "Holland": "NLD",
    "Great Britain": "GBR",
    "Britain": "GBR",
    "Hong Kong SAR": "HKG",
}

# Lower number wins when two sources produce the same key.
PRIORITY = {"alpha_3": 0, "alpha_2": 1, "name": 2, "official_name": 3, "common_name": 4, "alias": 5}


def text_key(value: str) -> str:
    """Mirror of the dbt macro `text_key`: lower, strip accents, '&' -> 'and', non-alnum -> space."""
    value = unicodedata.normalize("NFKD", value)
    value = "".join(ch for ch in value if not unicodedata.combining(ch)).lower()
    value = value.replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", " ", value).strip()


def build_rows() -> list[dict[str, str]]:
    by_alpha3 = {c.alpha_3: c for c in pycountry.countries}
    candidates: list[tuple[str, str, str]] = []  # (key, alpha_3, source)
    for c in pycountry.countries:
        candidates.append((text_key(c.alpha_3), c.alpha_3, "alpha_3"))
        candidates.append((text_key(c.alpha_2), c.alpha_3, "alpha_2"))
        for attr in ("name", "official_name", "common_name"):
            if getattr(c, attr, None):
                candidates.append((text_key(getattr(c, attr)), c.alpha_3, attr))
    for alias, alpha3 in ALIASES.items():
        if alpha3 not in by_alpha3:
            raise SystemExit(f"alias {alias!r} points at unknown alpha-3 {alpha3}")
        candidates.append((text_key(alias), alpha3, "alias"))

    best: dict[str, tuple[str, str]] = {}
    for key, alpha3, source in candidates:
        if key and (key not in best or PRIORITY[source] < PRIORITY[best[key][1]]):
            best[key] = (alpha3, source)

    rows = []
    for key in sorted(best):
        alpha3, source = best[key]
        country = by_alpha3[alpha3]
        rows.append(
            {
                "country_key": key,
                "iso3": alpha3,
                "iso2": country.alpha_2,
                "country_name": getattr(country, "common_name", None) or country.name,
                "match_source": source,
            }
        )
    return rows


def main(path: Path = SEED_PATH) -> int:
    rows = build_rows()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} keys to {path} (pycountry {pycountry.__version__})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
