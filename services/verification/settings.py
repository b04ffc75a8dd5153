"""Settings of the verification service: the runtime's settings plus upload and integrity limits."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runtime.bootstrap import Runtime
from runtime.settings import Settings


class VerificationSettings(Settings):
    """Runtime settings plus CLOSELOOP_MAX_UPLOAD_BYTES, CLOSELOOP_FAR_FROM_SITE_METRES, CLOSELOOP_REUSE_PHASH_DISTANCE,
    CLOSELOOP_MAX_IMAGE_PIXELS."""

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    far_from_site_metres: float = Field(default=1000.0, gt=0)
    reuse_phash_distance: int = Field(default=6, ge=0, le=64)
    # A decompression bomb is small on the wire and huge decoded: refuse by declared width × height first.
    max_image_pixels: int = Field(default=40_000_000, ge=1, le=400_000_000)


def get_settings(**overrides: Any) -> VerificationSettings:
    """Build the verification settings from the CLOSELOOP_* environment, with explicit overrides winning."""
    return VerificationSettings.build("verification", **overrides)


def settings_of(rt: Runtime) -> VerificationSettings:
    """The verification settings its runtime was built with."""
    return VerificationSettings.of(rt.settings)
