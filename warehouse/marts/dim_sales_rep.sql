-- One row per real sales rep and version (a slowly changing dimension, type 2), across ERP salesmen, CRM owner
-- lists and the WeCom / DingTalk directories (unified in marts.bridge_sales_rep). A rep's rep-list records each
-- have their versions: the current one (staging.sales_rep) and the earlier ones (staging.sales_rep_history,
-- from raw's landed versions). The rep changes version wherever one of its records does; each version's
-- attributes are the values most of the records valid then agree on, then the most recently updated, then the
-- first in sort order; consecutive versions that agree are one. A fact joins the version valid on its date:
-- valid_from <= date < valid_to (valid_to empty for the current version).
WITH record_version AS (
    SELECT r.source_name, r.stream, r.source_key, r.rep_key, r.name, r.team, r.region, r.email, r.mobile,
           r.userid, r.updated_at, h.last_change AS valid_from, CAST(NULL AS TIMESTAMP) AS valid_to
    FROM staging.sales_rep r
    LEFT JOIN (
        SELECT source_name, stream, source_key, MAX(valid_to) AS last_change
        FROM staging.sales_rep_history
        GROUP BY source_name, stream, source_key
    ) h ON h.source_name = r.source_name AND h.stream = r.stream AND h.source_key = r.source_key
    UNION ALL
    SELECT source_name, stream, source_key, rep_key, name, team, region, email, mobile, userid,
           valid_from AS updated_at, valid_from, valid_to
    FROM staging.sales_rep_history
),
rep_record AS (
    SELECT b.rep_id, v.*
    FROM record_version v
    JOIN marts.bridge_sales_rep b ON b.source_name = v.source_name AND b.rep_ref = v.rep_key
),
change_point AS (
    SELECT DISTINCT rep_id, COALESCE(valid_from, TIMESTAMP '1900-01-01 00:00:00') AS valid_from
    FROM rep_record
),
valid_record AS (  -- the record versions valid at each change point of their rep
    SELECT c.valid_from AS point, r.*
    FROM change_point c
    JOIN rep_record r
        ON r.rep_id = c.rep_id
       AND COALESCE(r.valid_from, TIMESTAMP '1900-01-01 00:00:00') <= c.valid_from
       AND (r.valid_to IS NULL OR r.valid_to > c.valid_from)
),
attribute AS (
    SELECT rep_id, point, 'name' AS attribute, name AS value, updated_at FROM valid_record WHERE name IS NOT NULL
    UNION ALL SELECT rep_id, point, 'team', team, updated_at FROM valid_record WHERE team IS NOT NULL
    UNION ALL SELECT rep_id, point, 'region', region, updated_at FROM valid_record WHERE region IS NOT NULL
    UNION ALL SELECT rep_id, point, 'email', email, updated_at FROM valid_record WHERE email IS NOT NULL
    UNION ALL SELECT rep_id, point, 'mobile', mobile, updated_at FROM valid_record WHERE mobile IS NOT NULL
    UNION ALL SELECT rep_id, point, 'userid', userid, updated_at FROM valid_record WHERE userid IS NOT NULL
),
voted AS (
    SELECT
        rep_id, point, attribute, value,
        ROW_NUMBER() OVER (PARTITION BY rep_id, point, attribute
                           ORDER BY COUNT(*) DESC, MAX(updated_at) DESC NULLS LAST, value) AS rn
    FROM attribute
    GROUP BY rep_id, point, attribute, value
),
version AS (
    SELECT
        c.rep_id,
        c.valid_from,
        MAX(CASE WHEN v.attribute = 'name' THEN v.value END) AS name,
        MAX(CASE WHEN v.attribute = 'team' THEN v.value END) AS team,
        MAX(CASE WHEN v.attribute = 'region' THEN v.value END) AS region,
        MAX(CASE WHEN v.attribute = 'email' THEN v.value END) AS email,
        MAX(CASE WHEN v.attribute = 'mobile' THEN v.value END) AS mobile,
        MAX(CASE WHEN v.attribute = 'userid' THEN v.value END) AS userid
    FROM change_point c
    LEFT JOIN voted v ON v.rep_id = c.rep_id AND v.point = c.valid_from AND v.rn = 1
    GROUP BY c.rep_id, c.valid_from
),
changed AS (  -- a version that repeats the one before is no new version
    SELECT
        v.*,
        LAG(COALESCE(name, '') || '|' || COALESCE(team, '') || '|' || COALESCE(region, '') || '|'
            || COALESCE(email, '') || '|' || COALESCE(mobile, '') || '|' || COALESCE(userid, ''))
            OVER (PARTITION BY rep_id ORDER BY valid_from) AS previous,
        COALESCE(name, '') || '|' || COALESCE(team, '') || '|' || COALESCE(region, '') || '|'
            || COALESCE(email, '') || '|' || COALESCE(mobile, '') || '|' || COALESCE(userid, '') AS this
    FROM version v
),
kept AS (
    SELECT *, LEAD(valid_from) OVER (PARTITION BY rep_id ORDER BY valid_from) AS valid_to
    FROM changed
    WHERE previous IS NULL OR previous <> this
),
lineage AS (
    SELECT
        b.rep_id,
        COUNT(*) AS source_records,
        COUNT(DISTINCT r.source_name) AS system_count,
        string_agg(DISTINCT r.source_name, ', ' ORDER BY r.source_name) AS systems,
        string_agg(DISTINCT r.source_name || ':' || r.rep_key, ', ' ORDER BY r.source_name || ':' || r.rep_key)
            AS rep_keys
    FROM staging.sales_rep r
    JOIN marts.bridge_sales_rep b ON b.source_name = r.source_name AND b.rep_ref = r.rep_key
    GROUP BY b.rep_id
)
SELECT
    k.rep_id,
    k.valid_from,
    k.valid_to,
    k.valid_to IS NULL AS is_current,
    k.name,
    k.team,
    k.region,
    k.email,
    k.mobile,
    k.userid,
    l.source_records,
    l.system_count,
    l.systems,
    l.rep_keys
FROM kept k
JOIN lineage l ON l.rep_id = k.rep_id
