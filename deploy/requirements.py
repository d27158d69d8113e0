"""Print the project's runtime dependencies (pyproject.toml), one a line, for pip's -r;
all but uWSGI: the installed service runs Debian's uwsgi-core and its python3 plugin.

    /usr/bin/python3 deploy/requirements.py pyproject.toml > requirements.txt
"""

from __future__ import annotations

import re
import sys
import tomllib


def main(pyproject: str) -> None:
    """Print every dependency of ``pyproject`` but uWSGI."""
    with open(pyproject, "rb") as project:
        dependencies = tomllib.load(project)["project"]["dependencies"]
    for requirement in dependencies:
        if re.split(r"[^A-Za-z0-9_.-]", requirement, maxsplit=1)[0].lower() != "uwsgi":
            print(requirement)


if __name__ == "__main__":
    main(sys.argv[1])
