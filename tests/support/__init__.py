"""What the tests share: the run's settings and databases, the CPR guard, API clients,
factories, the access matrix, the settlement model and hand-built report data.

`tests/conftest.py` holds fixtures only and test modules import from here, never from one
another, so a helper has one home and a test module can be read (or deleted) on its own.
"""
