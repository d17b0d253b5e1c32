"""The pure core: tariff, staircase, settlement arithmetic, CPR rules, periods, money.

Nothing in this package does I/O or reads a clock: callers pass `today` and data in.
"""
