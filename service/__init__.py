"""ivsettle: settles municipal IV treatment between Region Hovedstaden and its 29 municipalities."""

__version__ = "0.1.0"
