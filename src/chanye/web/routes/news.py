"""Placeholder: filled in by the news work of issue #4."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
