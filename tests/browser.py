"""A real headless Chromium for the HTML report tests (.ci/run installs it; the tests need it, never skip)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


class Browser:
    """Chromium run offline with a profile of its own under `work`."""

    def __init__(self, work: Path) -> None:
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        assert found, "the report tests need Chromium: apt-get install chromium (.ci/run installs it)"
        self._command = [
            found, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={work / 'profile'}",
        ]  # fmt: skip

    def dom(self, page: Path) -> str:
        """The page's DOM once Chromium has rendered it."""
        return subprocess.run([*self._command, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                              timeout=90, check=True).stdout  # fmt: skip

    def screenshot(self, page: Path, shot: Path, size: str = "1200,1600") -> bytes:
        subprocess.run([*self._command, f"--screenshot={shot}", f"--window-size={size}", page.as_uri()],
                       capture_output=True, timeout=90, check=True)  # fmt: skip
        return shot.read_bytes()
