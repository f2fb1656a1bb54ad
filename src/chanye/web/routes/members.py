"""Placeholder: filled in by the members work of issue #4."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
