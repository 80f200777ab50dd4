"""Build the Teams app package (manifest.json + two icons, zipped) from deploy/teams/."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path

from indexing import ConfigError

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "teams"
ICONS = ("color.png", "outline.png")


def build_package(app_id: str, host: str, out: Path, template: Path = TEMPLATE) -> Path:
    """Write the zip to upload in Teams (Apps → Manage your apps → Upload an app)."""
    try:
        uuid.UUID(app_id)
    except ValueError:
        raise ConfigError(
            f"'{app_id}' is not an app id: use the Azure Bot's Microsoft App ID (a GUID)"
        ) from None
    host = host.removeprefix("https://").removeprefix("http://").strip("/")
    if not host or "/" in host:
        raise ConfigError(f"'{host}' is not a host name, e.g. knowhere.example.com")
    text = (template / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text.replace("{{APP_ID}}", app_id).replace("{{HOST}}", host))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        for icon in ICONS:
            package.write(template / icon, icon)
    return out
