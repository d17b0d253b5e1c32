"""Approximate populations of the region's 29 municipalities, by kommunekode.

Source: Danmarks Statistik, StatBank table FOLK1A (population on the 1st day of the
quarter), 1 January 2024, rounded to the nearest thousand (Dragør to the nearest hundred).
The figures only weight how the simulated courses spread over the municipalities; they
are approximate on purpose and carry no business rule.
"""

from __future__ import annotations

POPULATION_2024: dict[str, int] = {
    "101": 660_000,  # København
    "147": 104_000,  # Frederiksberg
    "151": 52_000,  # Ballerup
    "153": 39_000,  # Brøndby
    "155": 14_600,  # Dragør
    "157": 75_000,  # Gentofte
    "159": 70_000,  # Gladsaxe
    "161": 24_000,  # Glostrup
    "163": 30_000,  # Herlev
    "165": 28_000,  # Albertslund
    "167": 55_000,  # Hvidovre
    "169": 57_000,  # Høje-Taastrup
    "173": 57_000,  # Lyngby-Taarbæk
    "175": 41_000,  # Rødovre
    "183": 24_000,  # Ishøj
    "185": 44_000,  # Tårnby
    "187": 17_000,  # Vallensbæk
    "190": 41_000,  # Furesø
    "201": 26_000,  # Allerød
    "210": 41_000,  # Fredensborg
    "217": 64_000,  # Helsingør
    "219": 53_000,  # Hillerød
    "223": 26_000,  # Hørsholm
    "230": 57_000,  # Rudersdal
    "240": 44_000,  # Egedal
    "250": 46_000,  # Frederikssund
    "260": 31_000,  # Halsnæs
    "270": 41_000,  # Gribskov
    "400": 39_000,  # Bornholm
}

# Where a municipality's citizens are usually referred from, by the municipality's cluster
# (reference/data/municipalities.json): the hospital's catchment area, approximately;
# Rigshospitalet takes a share from everywhere (highly specialised).
REFERRING_HOSPITALS: dict[str, dict[str, int]] = {
    "Byen": {"BFH": 45, "AHH": 25, "RH": 25, "HGH": 5},
    "Midt": {"HGH": 65, "RH": 20, "BFH": 10, "NOH": 5},
    "Syd": {"AHH": 60, "HGH": 15, "RH": 20, "BFH": 5},
    "Nord": {"NOH": 75, "RH": 15, "HGH": 10},
    "Bornholm": {"BOH": 85, "RH": 15},
}
