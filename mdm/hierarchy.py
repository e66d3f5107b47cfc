"""Customer hierarchy: a branch (分公司, 办事处) is its own legal entity, linked to its head office.

A branch's name carries its head office's name: `广州同腾建设工程股份有限公司上海分公司` →
brand+trade `同腾建设工程`, head-office region `广州`. The parent is the one non-branch golden
customer with that brand+trade in that city (or, when the name gives no region, the only
non-branch golden customer with that brand+trade). Ambiguous heads are not guessed.

A group (…集团有限公司) and the companies of its brand in its city (…科技有限公司) are different legal entities
(matching never merges them: `group_key` is exclusive); the companies are linked to the group, relation `group`.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from mdm.specs import flag

_CITY_SUFFIX = r"(市|地区|自治州|盟)$"


COLUMNS = ["child_golden_id", "parent_golden_id", "relation", "evidence"]


def _short(city: str) -> str:
    return f"regexp_replace({city}, '{_CITY_SUFFIX}', '')"


def hierarchy_sql(relation: str, text_order: Callable[[str], str] = lambda e: e) -> str:
    """SQL for child_golden_id, parent_golden_id, relation, evidence from standardized records with golden IDs
    (`relation`: record_id, golden_id, name, name_key, name_region, city_any, is_branch, name_core, group_key),
    set-based. A branch golden customer is described by its first branch record (by record id). A company of a
    group's brand in the group's city (深圳骐骥科技有限公司 beside 深圳骐骥集团有限公司) is linked to the group
    (relation `group`) when that city has one group of that brand."""
    rid = text_order("record_id")
    return f"""
WITH recs AS (SELECT * FROM {relation} _rel), heads AS (
    SELECT DISTINCT name_key, {_short('city_any')} AS region, golden_id AS parent
    FROM recs WHERE NOT COALESCE(is_branch, FALSE) AND name_key IS NOT NULL
), branches AS (
    SELECT name_key, {_short('name_region')} AS region, golden_id AS child, CAST(name AS VARCHAR) AS evidence
    FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY golden_id ORDER BY {rid}) AS _rn
          FROM recs WHERE COALESCE(is_branch, FALSE) AND name_key IS NOT NULL) b
    WHERE _rn = 1
), by_city AS (
    SELECT name_key, region, MIN(parent) AS parent FROM heads WHERE region IS NOT NULL
    GROUP BY name_key, region HAVING COUNT(DISTINCT parent) = 1
), by_name AS (
    SELECT name_key, MIN(parent) AS parent FROM heads GROUP BY name_key HAVING COUNT(DISTINCT parent) = 1
), linked AS (
    SELECT b.child, c.parent, b.evidence FROM branches b JOIN by_city c ON c.name_key = b.name_key
        AND c.region = b.region
    UNION ALL
    SELECT b.child, n.parent, b.evidence FROM branches b JOIN by_name n ON n.name_key = b.name_key
    WHERE b.region IS NULL
), groups AS (
    SELECT name_core, city_any, MIN(golden_id) AS parent, MIN(CAST(name AS VARCHAR)) AS group_name FROM recs
    WHERE group_key = 'group' AND NOT COALESCE(is_branch, FALSE) AND name_core IS NOT NULL AND city_any IS NOT NULL
    GROUP BY name_core, city_any HAVING COUNT(DISTINCT golden_id) = 1
), members AS (
    SELECT golden_id AS child, name_core, city_any FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY golden_id ORDER BY {rid}) AS _rn FROM recs
        WHERE group_key = 'member' AND NOT COALESCE(is_branch, FALSE) AND name_core IS NOT NULL) m
    WHERE _rn = 1 AND golden_id NOT IN (SELECT golden_id FROM recs WHERE group_key = 'group'
                                        AND golden_id IS NOT NULL)
)
SELECT child AS child_golden_id, parent AS parent_golden_id, 'branch' AS relation,
       'branch name: ' || evidence AS evidence
FROM linked WHERE child <> parent
UNION ALL
SELECT m.child, g.parent, 'group', 'same brand (' || m.name_core || ') and city as the group ' || g.group_name
FROM members m JOIN groups g ON g.name_core = m.name_core AND g.city_any = m.city_any
WHERE m.child <> g.parent AND m.child NOT IN (SELECT child FROM linked)
ORDER BY 1"""


def branch_parents(std: pd.DataFrame) -> pd.DataFrame:
    """child_golden_id, parent_golden_id, relation, evidence from standardized records with golden IDs
    (`hierarchy_sql`, run by an in-process DuckDB over the frame)."""
    recs = std.assign(is_branch=flag(std["is_branch"]))
    if "record_id" not in recs:
        recs = recs.assign(record_id=[f"{i:012d}" for i in range(len(recs))])
    con = duckdb.connect()
    try:
        con.register("_recs", recs[["record_id", "golden_id", "name", "name_key", "name_region", "city_any",
                                    "is_branch", "name_core", "group_key"]])
        out = con.sql(hierarchy_sql("_recs")).df()
    finally:
        con.close()
    return out[COLUMNS].reset_index(drop=True)
