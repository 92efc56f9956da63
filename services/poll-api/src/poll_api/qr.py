"""The join link as a QR code, drawn as SVG with segno (no image library, crisp at any size)."""

from __future__ import annotations

import io

import segno


def qr_svg(data: str) -> bytes:
    """An SVG QR code of `data`: a viewBox and no size, so the page sizes it with CSS."""
    code = segno.make(data, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=1,
        border=4,
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        lineclass=None,
        title="QR code of the join link",
        light="#fff",
    )
    return out.getvalue()
