"""``/docs`` served from local files: Swagger UI 5 as shipped by fastapi-offline, no CDN.

(Swagger UI 4, as in swagger-ui-bundle, cannot read FastAPI's OpenAPI 3.1 documents.)

An intranet without internet gets the same page; nothing is fetched from outside.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def swagger_dir() -> Path | None:
    """The folder holding swagger-ui-bundle.js and swagger-ui.css, if the package is installed."""
    try:
        folder = Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        return None
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def install(app: FastAPI) -> None:
    """Serve ``/docs`` (the app must be built with ``docs_url=None, redoc_url=None``)."""
    folder = swagger_dir()
    if folder is not None:
        app.mount(ASSETS, StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if folder is None:
            return HTMLResponse(
                "<!doctype html><meta charset='utf-8'><title>接口文档</title>"
                "<p>未安装 fastapi-offline，无法显示接口文档页面；"
                f"接口说明（OpenAPI）见 <a href='{app.openapi_url}'>{app.openapi_url}</a>。</p>",
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · 接口文档",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
