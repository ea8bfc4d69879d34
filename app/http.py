"""The JSON response every REST route answers with."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    """A JSON response encoded with orjson. A JSONResponse, so the OpenAPI document takes each
    route's ``responses`` model as its schema rather than a bare string."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
