"""HTTP service: ``lexdense serve`` (FastAPI + uvicorn). See :func:`lexdense.serve.app.create_app`."""

from lexdense.serve.app import create_app

__all__ = ["create_app"]
