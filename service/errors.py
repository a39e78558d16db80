"""Error answers of the service: every refusal is ``ErrorResponse`` JSON naming the field
at fault and the rule or limit that refused it.

=====  ==============================================================================
422    bad input: a field (pydantic's or the re-ranker's checks), invalid JSON, a number
       too long to parse, a policy that cannot be reloaded
401    admin without a bearer token (``WWW-Authenticate: Bearer``)
403    admin refused by a rule; a reload target outside the allowed folders
408    the request body did not arrive within ``service.body_timeout_s``
409    a reload while another runs
413    a body over ``service.max_body_bytes``
503    overloaded (``Retry-After``)
=====  ==============================================================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fusionrank.service.admin import AdminRefused
from fusionrank.service.inputs import RequestError
from fusionrank.service.reload import ReloadRefused
from fusionrank.service.schemas import ErrorItem, ErrorResponse
from fusionrank.service.shedding import Overloaded

logger = logging.getLogger(__name__)


def error_response(
    request: Request,
    status: int,
    items: list[tuple[str, str]],
    kind: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The ``ErrorResponse`` JSON of a refused request (``kind`` labels the metric)."""
    info = request.scope.setdefault("state", {})
    info["error"] = kind
    body = ErrorResponse(
        request_id=info.get("request_id", ""),
        policy_version=str(info.get("policy_version", "")),
        detail=[ErrorItem(field=f, message=m) for f, m in items],
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def field_name(loc: tuple[Any, ...]) -> str:
    """``("body", "features", 3, 0)`` -> ``"features[3][0]"``."""
    text = ""
    for part in (str(p) for p in loc if p != "body"):
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def _validation_items(error: RequestValidationError) -> list[tuple[str, str]]:
    items = []
    for e in error.errors():
        if e.get("type") == "json_invalid":
            position = e["loc"][-1] if len(e.get("loc", ())) > 1 else "?"
            reason = (e.get("ctx") or {}).get("error", "JSON decode error")
            items.append(
                (
                    "body",
                    f"is not valid JSON ({reason} at character {position}); send a JSON object",
                )
            )
        else:
            items.append((field_name(tuple(e["loc"])), e["msg"]))
    return items


def _unparsable(error: BaseException | None) -> str:
    """What a body that JSON could not turn into values holds, from the parser's error."""
    text = str(error)
    if "digits" in text:
        return (
            "holds a number with too many digits to parse (over 4300); send numbers of normal size"
        )
    if isinstance(error, RecursionError):
        return "is nested too deeply to parse; send a flat JSON object"
    return f"could not be parsed ({type(error).__name__}); send a JSON object"


def add_error_handlers(app: FastAPI) -> None:
    """Register the handlers of the table in the module docstring."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(request, 422, _validation_items(error), "validation")

    @app.exception_handler(RequestError)
    async def bad_request(request: Request, error: RequestError) -> JSONResponse:
        return error_response(request, 422, [(error.field, error.message)], "validation")

    @app.exception_handler(ReloadRefused)
    async def reload_refused(request: Request, error: ReloadRefused) -> JSONResponse:
        return error_response(request, error.status, [("path", error.message)], "reload")

    @app.exception_handler(AdminRefused)
    async def admin_refused(request: Request, error: AdminRefused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return error_response(
            request,
            error.status,
            [("authorization", error.message)],
            f"admin_{error.rule}",
            headers,
        )

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, error: Overloaded) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after_s)}
        return error_response(request, 503, [("request", error.message)], "overloaded", headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        status = error.status_code
        if status == 400:  # FastAPI: the JSON parser raised something else than a decode error
            message = _unparsable(error.__cause__)
            return error_response(request, 422, [("body", message)], "validation")
        kinds = {413: "too_large", 408: "body_timeout"}
        where = "body" if status in kinds else "request"
        return error_response(
            request, status, [(where, str(error.detail))], kinds.get(status, str(status))
        )

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> JSONResponse:
        return error_response(request, 422, [("request", str(error))], "validation")

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        logger.exception("internal error in %s", request.url.path)
        message = "internal error; the service log has it under this request id"
        return error_response(request, 500, [("request", message)], "internal")
