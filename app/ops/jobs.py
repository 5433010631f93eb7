"""Ops jobs: sample the service's own metrics into the dashboard's time series."""

from __future__ import annotations

from app.features import Job
from app.ops import timeseries

JOBS = [Job("ops_sample", timeseries.SAMPLE_S, timeseries.sample)]
