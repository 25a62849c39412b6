"""The OpenAPI schema says what the API answers, errors included (checked by schemathesis in the suite)."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from heliox.api import DECIMAL_STRING, DECIMAL_STRING_OR_NULL

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "What went wrong.",
}
# DRF's validation errors: {"field": ["message", ...]} (nested for nested fields), or {"detail": "..."}.
VALIDATION = {
    "type": "object",
    "additionalProperties": {},
    "description": "Each field (or `detail`, or a path such as `metadata.tags[2]`) with what is wrong with it.",
}
ERRORS = {
    "400": ("Bad input: the body names each field (or parameter) and what is wrong.", VALIDATION),
    "401": ("Not authenticated: send `Authorization: Token <token>` or log in.", DETAIL),
    "403": ("Authenticated, but not allowed to do this.", DETAIL),
    "404": ("No such object, or not one of your teams'.", DETAIL),
    "413": ("The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE.", DETAIL),
    "415": ("The body is not JSON.", DETAIL),
    "429": ("Throttled: wait `Retry-After` seconds.", DETAIL),
}
WRITES = ("POST", "PUT", "PATCH")
CSV = {"type": "string", "description": "CSV with a header row."}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, with the error answers every operation can give.

    Every operation needs authentication (401), may be refused (403) or throttled
    (429), and may name an object or a team that the user cannot see (404). Bodies are
    JSON only (415) and bounded (413). 400 where there is input: a body or parameters.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["401", "403", "404", "429"]
        if self.method in WRITES:
            codes += ["400", "413", "415"]
        elif self.method != "DELETE":
            codes.append("400")  # parameters: filters, cursors, ranges
        # An error is rendered like the answer would have been: JSON, or a CSV of field,message rows.
        media_types = self.map_renderers("media_type")
        for code in codes:
            description, schema = ERRORS[code]
            content = {media: {"schema": schema if media == "application/json" else CSV} for media in media_types}
            responses.setdefault(code, {"description": description, "content": content})
        return dict(sorted(responses.items()))


def decimal(nullable: bool = False, description: str = "") -> dict:
    schema = dict(DECIMAL_STRING_OR_NULL if nullable else DECIMAL_STRING)
    return {**schema, "description": description} if description else schema


__all__ = ["AutoSchema", "decimal"]


# Building blocks of the hand-written answer schemas (the aggregates, the LLM ingest).
STRING = {"type": "string"}
DATE = {"type": "string", "format": "date"}
INTEGER = {"type": "integer"}


def obj(properties: dict, required: tuple = (), extra: dict | bool = False, description: str = "") -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema
