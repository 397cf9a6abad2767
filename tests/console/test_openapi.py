"""The API describes itself: /api/openapi.json lists every /api/ route of the running app with
the roles its handler declares, and the README's route table agrees with it both ways."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cti.app import build_app
from cti.config import Settings
from cti.web.security import declared_roles

README = Path(__file__).parents[2] / "README.md"


def readme_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every `/api/` row in the README's HTTP API table."""
    found = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Z/]+) (/api/[^`?\s]*)", line)
        if match:
            methods, path = match.groups()
            found |= {(m, path) for m in methods.split("/")}
    return found


def app_routes(app: Any) -> set[tuple[str, str]]:
    return {(r.method, r.resource.canonical) for r in app.router.routes()
            if r.resource and r.resource.canonical.startswith("/api/") and r.method != "HEAD"}


async def test_the_document_covers_every_route_and_the_readme_agrees(
        aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    from cti.storage import create_engine, upgrade

    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    engine = create_engine(settings.database.url)
    await upgrade(engine)
    await engine.dispose()
    app = build_app(settings)
    client = await aiohttp_client(app)
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert documented == app_routes(app)
    for route in app.router.routes():
        if (route.method, getattr(route.resource, "canonical", "")) in documented:
            op = doc["paths"][route.resource.canonical][route.method.lower()]
            roles = declared_roles(route.handler)
            assert op["x-roles"] == ("public" if roles is None else sorted(r.value for r in roles))
            [success] = [code for code in op["responses"] if code in ("101", "200", "201")]
            assert op["summary"]
            json_body = op["responses"][success].get("content", {}).get("application/json")
            if json_body is not None:  # every JSON answer has a real schema, not just "object"
                schema = json_body["schema"]
                assert schema.get("properties") and schema.get("required"), (route, schema)
    records = doc["paths"]["/api/records"]["get"]
    assert {p["name"] for p in records["parameters"]} >= {"since", "cursor", "limit", "q"}
    assert doc["paths"]["/api/knowledge/{id}"]["get"]["parameters"][0]["schema"]["type"] == "integer"

    in_readme = readme_routes()
    assert sorted(documented - in_readme) == [], "routes missing from the README"
    assert sorted(in_readme - documented) == [], "README rows for routes that do not exist"

    page = await client.get("/api/docs", allow_redirects=True)
    assert page.status == 200 and "openapi.json" in await page.text()
