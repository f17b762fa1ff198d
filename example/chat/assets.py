"""The browser assets of the GraphiQL page: from a CDN, or local files.

The versions are those `example/frontend/package.json` pins. The integrity
hashes are the SHA-384 of the files in those npm packages; jsDelivr serves a
pinned file unchanged, so the same hash guards the CDN copy (a test checks the
hashes against the files `npm ci` installed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

__all__ = [
    "ASSETS",
    "ASSET_MODES",
    "FRONTEND_DIR",
    "Asset",
    "local_staticfiles_dirs",
    "missing_local_files",
]

ASSET_MODES = ("cdn", "local")
FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
NODE_MODULES = FRONTEND_DIR / "node_modules"
CDN = "https://cdn.jsdelivr.net/npm"
STATIC_PREFIX = "vendor"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Asset:
    """One file of an npm package the page loads."""

    package: str
    version: str
    path: str
    integrity: str

    @property
    def is_css(self) -> bool:
        """Whether it is a stylesheet (else a script)."""
        return self.path.endswith(".css")

    @property
    def cdn_url(self) -> str:
        """The jsDelivr URL of this exact file and version."""
        return f"{CDN}/{self.package}@{self.version}/{self.path}"

    @property
    def static_path(self) -> str:
        """The path under STATIC_URL when served locally."""
        return f"{STATIC_PREFIX}/{self.package}/{self.path}"

    @property
    def local_file(self) -> Path:
        """Where `npm ci` puts the file."""
        return NODE_MODULES / self.package / self.path


# In load order: React first, GraphiQL's UMD build expects it as a global.
ASSETS = (
    Asset(
        package="react",
        version="18.3.1",
        path="umd/react.production.min.js",
        integrity="sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    ),
    Asset(
        package="react-dom",
        version="18.3.1",
        path="umd/react-dom.production.min.js",
        integrity="sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    ),
    Asset(
        package="graphiql",
        version="4.1.2",
        path="graphiql.min.css",
        integrity="sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
    ),
    Asset(
        package="graphiql",
        version="4.1.2",
        path="graphiql.min.js",
        integrity="sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    ),
    Asset(
        package="graphql-ws",
        version="6.0.6",
        path="umd/graphql-ws.min.js",
        integrity="sha384-L1uJSNgAjZOt7z6iPU+1qyztx98nQKw6uivIFC4oPZlOoimpFurLFG/Ysyo4BkAp",
    ),
)


def local_staticfiles_dirs() -> list[tuple[str, str]]:
    """STATICFILES_DIRS entries exposing the asset packages, and only them."""
    packages = dict.fromkeys(asset.package for asset in ASSETS)
    return [(f"{STATIC_PREFIX}/{name}", str(NODE_MODULES / name)) for name in packages]


def missing_local_files() -> list[Path]:
    """The asset files `npm ci` has not installed (yet)."""
    return [asset.local_file for asset in ASSETS if not asset.local_file.is_file()]
