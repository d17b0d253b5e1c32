"""HTTP answers every router may give: a file as an attachment, and how it is documented."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Response


class Attachment(Protocol):
    """A file to hand out (e.g. service.report.files.File)."""

    @property
    def content(self) -> bytes: ...

    @property
    def filename(self) -> str: ...

    @property
    def media_type(self) -> str: ...


def file_response(file: Attachment) -> Response:
    """The file as a download: its bytes, media type, and its name in Content-Disposition
    (names are ASCII and carry no personal data, so they need no quoting beyond "")."""
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


def file_responses(description: str, *media_types: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a download: each media type as binary (`type: string, format:
    binary`), so that generated clients hand out the bytes as a file, not None."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": description, "content": {m: binary for m in media_types}}}
