"""The pure core: tariff, staircase, settlement arithmetic, CPR rules, periods, money,
and the vocabulary (`vocabulary.py`: every closed set of words, defined once).

Nothing in this package does I/O or reads a clock: callers pass `today` and data in.
"""
