"""Place enterprises in the industrial system: clusters, future and service industries, chain links.

Evidence comes from two places in the system file: the industry codes of each industry and chain
link (matched against the enterprise's GB/T 4754 code) and the keywords (matched in its name and
business scope with one Aho-Corasick automaton, so one pass finds all keywords of all links).
Every placement keeps its evidence (which code or keyword put it there) and a confidence.

Rules, in words (they are what an analyst would do by hand):
- a code under a link's code is evidence for that link: class (4 digits) 0.6, group 0.5,
  division 0.4; an enterprise whose own code is coarser than the link's gets 0.3 for the industry;
- each distinct keyword found adds 0.3; confidence is capped at 1.0;
- when the code alone points at several industries, and keywords support some of them, only
  those are kept (the keywords disambiguate a code shared by several chains);
- an analyst's override replaces the result and is kept across re-imports (see ``overrides``).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from chanye.registry.validation import load_table
from chanye.system.industry_codes import catalogue
from chanye.system.model import IndustrialSystem

KEYWORD_WEIGHT = 0.3
CODE_WEIGHTS = {4: 0.6, 3: 0.5, 2: 0.4}
COARSE_CODE_WEIGHT = 0.3
SCAN_BATCH = 200_000
PARALLEL_THRESHOLD = 400_000  # below this, forking workers costs more than it saves

CLASSIFIED_TABLE = "classified"


@dataclass
class Rules:
    """The system file's codes and keywords, ready for matching."""

    keywords: list[str]
    keyword_rows: list[tuple[int, str, str | None]]  # (keyword index, industry, link or None)
    code_rows: list[tuple[str, str, str | None, float]]  # (code, industry, link, weight)
    kinds: dict[str, str]  # industry id → cluster / future / service
    automaton: ahocorasick.Automaton = field(repr=False)


def build_rules(system: IndustrialSystem) -> Rules:
    keyword_index: dict[str, int] = {}
    keyword_rows: list[tuple[int, str, str | None]] = []
    code_rows: list[tuple[str, str, str | None, float]] = []
    codes = catalogue().codes
    for _, industry in system.industries():
        located: list[tuple[str | None, list[str], list[str]]] = [
            (None, industry.codes, industry.keywords)
        ]
        located += [(link.id, link.codes, link.keywords) for link in industry.links]
        for link_id, link_codes, link_keywords in located:
            for keyword in link_keywords:
                index = keyword_index.setdefault(keyword, len(keyword_index))
                keyword_rows.append((index, industry.id, link_id))
            for link_code in link_codes:
                for code in codes:
                    if code.startswith(link_code):
                        code_rows.append((code, industry.id, link_id, CODE_WEIGHTS[len(link_code)]))
                    elif link_code.startswith(code):
                        code_rows.append((code, industry.id, None, COARSE_CODE_WEIGHT))
    automaton = ahocorasick.Automaton()
    for keyword, index in keyword_index.items():
        automaton.add_word(keyword, index)
    automaton.make_automaton()
    return Rules(
        keywords=list(keyword_index),
        keyword_rows=keyword_rows,
        code_rows=sorted(set(code_rows), key=lambda r: (r[0], r[1], r[2] or "", r[3])),
        kinds={ind.id: kind for kind, ind in system.industries()},
        automaton=automaton,
    )


# --- keyword scan -------------------------------------------------------------------------------

_WORKER_AUTOMATON: ahocorasick.Automaton | None = None


def _scan_texts(
    automaton: ahocorasick.Automaton, texts: Sequence[str | None], offset: int
) -> tuple[np.ndarray, np.ndarray]:
    rows: list[int] = []
    hits: list[int] = []
    for i, text in enumerate(texts):
        if text:
            for _, keyword in automaton.iter(text):
                rows.append(i + offset)
                hits.append(keyword)
    return np.asarray(rows, dtype=np.int64), np.asarray(hits, dtype=np.int32)


def _scan_parquet_part(args: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    path, first_group, last_group = args
    assert _WORKER_AUTOMATON is not None
    parquet = pq.ParquetFile(path)
    rows, hits = [], []
    offset = sum(parquet.metadata.row_group(g).num_rows for g in range(first_group))
    for group in range(first_group, last_group):
        texts = parquet.read_row_group(group, columns=["text"]).column(0).to_pylist()
        r, h = _scan_texts(_WORKER_AUTOMATON, texts, offset)
        rows.append(r)
        hits.append(h)
        offset += len(texts)
    return np.concatenate(rows or [np.empty(0, np.int64)]), np.concatenate(
        hits or [np.empty(0, np.int32)]
    )


def scan_keywords(
    con: duckdb.DuckDBPyConnection, rules: Rules, texts_query: str, rows: int
) -> pa.Table:
    """(ord, keyword) for every keyword occurrence in the texts of ``texts_query`` (columns
    ``ord``, ``text``; ``ord`` numbered 0..rows-1 in order)."""
    workers = min(os.cpu_count() or 1, 4)
    if rows < PARALLEL_THRESHOLD or workers < 2:
        parts = []
        reader = con.execute(f"SELECT text FROM ({texts_query}) ORDER BY ord").fetch_record_batch(
            SCAN_BATCH
        )
        offset = 0
        for batch in reader:
            texts = batch.column(0).to_pylist()
            parts.append(_scan_texts(rules.automaton, texts, offset))
            offset += len(texts)
        ords = np.concatenate([p[0] for p in parts] or [np.empty(0, np.int64)])
        kws = np.concatenate([p[1] for p in parts] or [np.empty(0, np.int32)])
        return pa.table({"ord": ords, "keyword": kws})
    return _scan_in_workers(con, rules, texts_query, workers)


def _scan_in_workers(
    con: duckdb.DuckDBPyConnection, rules: Rules, texts_query: str, workers: int
) -> pa.Table:
    # Workers read their share of the texts from a temporary Parquet file and return only the hit
    # arrays, so no large Python objects cross process boundaries. They inherit the automaton by
    # fork, which avoids pickling it.
    global _WORKER_AUTOMATON
    with tempfile.TemporaryDirectory(prefix="chanye-scan-") as tmp:
        path = str(Path(tmp) / "texts.parquet")
        con.execute(
            f"COPY (SELECT text FROM ({texts_query}) ORDER BY ord) TO '{path}' (FORMAT PARQUET, ROW_GROUP_SIZE {SCAN_BATCH})"
        )
        groups = pq.ParquetFile(path).metadata.num_row_groups
        bounds = np.linspace(0, groups, workers + 1).astype(int)
        tasks = [(path, int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]
        _WORKER_AUTOMATON = rules.automaton
        try:
            with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
                results = pool.map(_scan_parquet_part, tasks)
        finally:
            _WORKER_AUTOMATON = None
    return pa.table(
        {
            "ord": np.concatenate([r[0] for r in results]),
            "keyword": np.concatenate([r[1] for r in results]),
        }
    )


# --- combining ----------------------------------------------------------------------------------


def load_rule_tables(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    keyword_rows = rules.keyword_rows
    load_table(con, "rule_keywords", {
        "keyword": [r[0] for r in keyword_rows],
        "word": [rules.keywords[r[0]] for r in keyword_rows],
        "industry": [r[1] for r in keyword_rows],
        "link": [r[2] for r in keyword_rows],
    })  # fmt: skip
    load_table(con, "rule_codes", {
        "code": [r[0] for r in rules.code_rows],
        "industry": [r[1] for r in rules.code_rows],
        "link": [r[2] for r in rules.code_rows],
        "weight": [r[3] for r in rules.code_rows],
    })  # fmt: skip
    load_table(
        con, "rule_kinds", {"industry": list(rules.kinds), "kind": list(rules.kinds.values())}
    )


def classify_table(
    con: duckdb.DuckDBPyConnection, rules: Rules, source: str, key: str = "uscc"
) -> int:
    """Classify every row of table ``source`` (with ``key``, ``name``, ``business_scope`` and
    ``industry_code`` columns) into table ``classified`` keyed by ``key``."""
    load_rule_tables(con, rules)
    has_scope = _has_column(con, source, "business_scope")
    has_code = _has_column(con, source, "industry_code")
    scope = "coalesce(business_scope, '')" if has_scope else "''"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE scan_texts AS
            SELECT (row_number() OVER () - 1)::BIGINT AS ord, "{key}" AS key,
                   coalesce(name, '') || chr(10) || {scope} AS text
            FROM {source}"""
    )
    rows = int(con.execute("SELECT count(*) FROM scan_texts").fetchone()[0])  # type: ignore[index]
    hits = scan_keywords(con, rules, "SELECT ord, text FROM scan_texts", rows)
    con.register("keyword_hits", hits)
    code_evidence = (
        f"""SELECT s."{key}" AS key, c.industry, c.link, 'code' AS via, s.industry_code AS value, c.weight
            FROM {source} s JOIN rule_codes c ON s.industry_code = c.code"""
        if has_code
        else "SELECT NULL AS key, NULL AS industry, NULL AS link, NULL AS via, NULL AS value, NULL::DOUBLE AS weight WHERE false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE evidence AS
        SELECT DISTINCT t.key, k.industry, k.link, 'keyword' AS via, k.word AS value, {KEYWORD_WEIGHT} AS weight
        FROM keyword_hits h JOIN scan_texts t USING (ord) JOIN rule_keywords k ON h.keyword = k.keyword
        UNION ALL
        {code_evidence}
        """
    )
    con.unregister("keyword_hits")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE kept AS
        WITH per_industry AS (
            SELECT key, industry,
                   max(weight) FILTER (WHERE via = 'code') AS code_weight,
                   count(DISTINCT value) FILTER (WHERE via = 'keyword') AS keywords
            FROM evidence GROUP BY key, industry
        ), per_row AS (
            SELECT key, count(*) FILTER (WHERE code_weight IS NOT NULL) AS code_industries,
                   bool_or(code_weight IS NOT NULL AND keywords > 0) AS code_confirmed
            FROM per_industry GROUP BY key
        )
        SELECT p.key, p.industry, least(1.0, coalesce(p.code_weight, 0) + {KEYWORD_WEIGHT} * p.keywords) AS confidence
        FROM per_industry p JOIN per_row r USING (key)
        WHERE p.keywords > 0 OR NOT (r.code_industries > 1 AND r.code_confirmed)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {CLASSIFIED_TABLE} AS
        WITH ind AS (
            SELECT key,
                   list(k.industry ORDER BY k.confidence DESC, k.industry) AS industries,
                   list(k.industry ORDER BY k.confidence DESC, k.industry) FILTER (WHERE r.kind = 'cluster') AS clusters,
                   to_json(map(list(k.industry ORDER BY k.industry), list(round(k.confidence, 2) ORDER BY k.industry))) AS confidence
            FROM kept k JOIN rule_kinds r USING (industry) GROUP BY key
        ), links AS (
            SELECT e.key, list(DISTINCT e.link ORDER BY e.link) FILTER (WHERE e.link IS NOT NULL) AS chain_links,
                   to_json(list({{'industry': e.industry, 'link': e.link, 'via': e.via, 'value': e.value}}
                                ORDER BY e.industry, e.via, e.value)) AS evidence
            FROM evidence e JOIN kept k USING (key, industry) GROUP BY e.key
        )
        SELECT s."{key}" AS key,
               coalesce(ind.industries, []) AS industries,
               coalesce(ind.clusters, []) AS clusters,
               coalesce(links.chain_links, []) AS chain_links,
               coalesce(ind.confidence, '{{}}') AS confidence,
               coalesce(links.evidence, '[]') AS evidence
        FROM {source} s LEFT JOIN ind ON ind.key = s."{key}" LEFT JOIN links ON links.key = s."{key}"
        """
    )
    return rows


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    return column in names


def explain(evidence_json: str) -> list[dict[str, str | None]]:
    """The evidence of one enterprise as a list of {industry, link, by, value}."""
    parsed: list[dict[str, str | None]] = json.loads(evidence_json or "[]")
    return parsed
