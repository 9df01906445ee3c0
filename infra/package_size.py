"""`make package`'s last line: the deployment zip's size against Lambda's limits for zip packages."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ZIPPED_LIMIT_MB = 50  # direct upload of a zip to Lambda
UNZIPPED_LIMIT_MB = 250  # the function and its layers, unzipped


def size_line(path: Path) -> str:
    unzipped = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    return (
        f"{path}: {path.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped "
        f"(Lambda limits: {ZIPPED_LIMIT_MB} MB zipped direct upload, {UNZIPPED_LIMIT_MB} MB unzipped)"
    )


if __name__ == "__main__":
    print(size_line(Path(sys.argv[1])))
