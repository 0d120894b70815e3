"""Survey (CSAT, NPS, CES) and QA figures per interval."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from fastapi.responses import Response

from api.deps import (CSV_RESPONSE, IntervalQuery, csv_response, get_store, interval_query, known_agent, known_queue,
                      model_response, off_loop)
from api.store import ReadModelStore
from ccpulse.readmodel.views import survey_rows
from schemas.api import ErrorResponse, SurveyList, SurveyRow

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])


@router.get("", response_model=SurveyList, summary="Survey and QA figures of a queue, an agent or the centre",
            responses={**CSV_RESPONSE, 404: {"model": ErrorResponse, "description": "Unknown queue or agent"},
                       422: {"model": ErrorResponse, "description": "Both queue_id and agent_id, or a bad range"}})
async def surveys(
    queue_id: str | None = Query(None, description="One queue's answers (those attributed to it)"),
    agent_id: str | None = Query(None, description="One agent's answers (those naming the agent)"),
    q: IntervalQuery = Depends(interval_query),
    store: ReadModelStore = Depends(get_store),
):
    if queue_id is not None and agent_id is not None:
        raise HTTPException(422, "give queue_id or agent_id, not both")
    if queue_id is not None:
        scope, entity = "queue", known_queue(store, queue_id)
    elif agent_id is not None:
        scope, entity = "agent", known_agent(store, agent_id)
    else:
        scope, entity = "centre", None
    return await off_loop(store, _answer, store, scope, entity, queue_id, agent_id, q)


def _answer(store: ReadModelStore, scope: str, entity: str | None, queue_id: str | None, agent_id: str | None,
            q: IntervalQuery) -> Response:
    rows = survey_rows(store, queue_id, agent_id, q.granularity, q.start, q.end)
    if q.format == "csv":
        fields = tuple(SurveyRow.model_fields)
        return csv_response(f"{scope}_id" if entity else "scope", entity or "centre", fields, rows,
                            f"surveys-{scope}-{entity or 'centre'}-{q.granularity}.csv")
    return model_response(SurveyList, {"scope": scope, "id": entity, "granularity": q.granularity,
                                       "timezone": store.settings.timezone, "intervals": rows}, "intervals")
