"""HTTP answers every router may give: a file as an attachment."""

from __future__ import annotations

from typing import Protocol

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
