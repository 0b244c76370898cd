"""Request and response models of the HTTP API (its OpenAPI schema) and the documented errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EmbedRequest(BaseModel):
    texts: list[str] = Field(..., description="Texts to embed (unit-length vectors come back)")


class EmbedResponse(BaseModel):
    model: str
    dim: int
    embeddings: list[list[float]]


class SearchRequest(BaseModel):
    query: str = Field(..., max_length=10_000)
    k: int = Field(10, ge=1, le=1000)
    mode: Literal["dense", "bm25", "hybrid"] = "dense"
    where: dict[str, list[str]] | None = None


class Hit(BaseModel):
    row: int
    score: float
    text: str
    metadata: dict
    highlights: list[list[int]] = Field(..., description="[start, end) character spans of query words in the "
                                        "text (stopwords such as 'the' and 'at' are not marked)")
    passage_span: list[int] = Field(..., description="[start, end) characters of the passage of the text that "
                                    "best matches the query (the whole text when it is short)")


class SearchResponse(BaseModel):
    results: list[Hit]


class ClassifyRequest(BaseModel):
    texts: list[str]


class ClassifyResponse(BaseModel):
    labels: list[str]
    probabilities: list[dict[str, float]]


MAX_TOPIC_LABELS = 200
MAX_KEYWORDS_PER_LABEL = 50


class TopicsRequest(BaseModel):
    texts: list[str]
    keywords: dict[str, list[str]] = Field(..., description=f"label -> keywords (2 to {MAX_TOPIC_LABELS} labels, "
                                                           f"at most {MAX_KEYWORDS_PER_LABEL} keywords each)",
                                           max_length=MAX_TOPIC_LABELS)
    abstain: float = Field(0.0, ge=0.0, lt=1.0, strict=True)  # strict: `false` is not a number


class TopicsResponse(BaseModel):
    labels: list[str | None]
    confidence: list[float]


class ErrorResponse(BaseModel):
    detail: str | list[dict] = Field(..., description="What was wrong with the request")


def documented_errors(*codes: int) -> dict:
    text = {400: "The body is not valid JSON", 401: "Missing or wrong bearer token",
            404: "Nothing loaded for this endpoint", 413: "Request body too large",
            422: "The request does not fit the schema or the limits"}
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


COMMON = (400, 401, 413, 422)
