"""LLM calls: the user's teams' calls, and the batch ingest."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from costs.llm.api import schemas
from costs.llm.api.serializers import LlmCallSerializer
from costs.llm.models import LlmCall
from costs.llm.services.ingest import llm_calls_ingest
from heliox.api import JobCursorPagination
from heliox.errors import InputError
from heliox.permissions import staff_can
from teams.api.permissions import TeamScopedMixin
from teams.selectors import member_team_ids


class LlmCallViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """LLM calls of the user's teams. POST one call or a list of up to 1,000, all or nothing.

    Fields: team (id or name), provider, model, session_id, node_name, input_tokens,
    output_tokens, cached_input_tokens, latency_ms, created_at, metadata. An
    `Idempotency-Key` header makes a retried request store nothing new and answer as
    the first one did. Members of a team may log its calls.
    """

    serializer_class = LlmCallSerializer
    queryset = LlmCall.objects.select_related("team").order_by("-created_at")
    pagination_class = JobCursorPagination
    filterset_fields = ["team", "provider", "model", "session_id", "node_name"]

    @extend_schema(request={"application/json": schemas.LLM_CALLS}, responses={201: schemas.INGESTED})
    def create(self, request):
        allowed = None if staff_can(request.user, "add", LlmCall) else member_team_ids(request.user)
        try:
            body, status, replayed = llm_calls_ingest(
                payload=request.data, user=request.user, allowed_team_ids=allowed,
                idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
            )  # fmt: skip
        except InputError as error:
            return Response({"detail": str(error)}, status=400)
        response = Response(body, status=status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response
