"""The official OIOUBL 2.1 validator vendored in contracts/oioubl/ (XSD, then schematron)."""

from __future__ import annotations

import atexit
import gc
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "oioubl_validate", ROOT / "contracts" / "oioubl" / "validate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_VALIDATOR = _load()


def _release() -> None:
    """Free the Saxon processor before the interpreter tears down: left to the end, its
    finaliser runs after sys.excepthook is gone ("Error in sys.excepthook" on exit)."""
    _VALIDATOR._stylesheet.cache_clear()
    _VALIDATOR._processor.cache_clear()
    gc.collect()


atexit.register(_release)


def oioubl_errors(content: bytes, tmp_path: Path, name: str) -> list[str]:
    """Every error the official validator finds in the document (none: it is valid)."""
    path = tmp_path / f"{name}.xml"
    path.write_bytes(content)
    return list(_VALIDATOR.validate(path))
