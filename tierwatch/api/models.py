"""The base of the read routers' responses: envelopes around analytics' own types."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ResponseModel(BaseModel):
    """A response: a few fields of the request's own, and analytics' results as they are."""

    # Fields with a default (a finding's ``direction``, say) are in every response all
    # the same, so the schema lists them as required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
