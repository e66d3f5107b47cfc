-- One row per real sales rep, across ERP salesmen, CRM owner lists and the WeCom / DingTalk directories
-- (unified in marts.bridge_sales_rep). Each attribute is the value most records agree on, then the most
-- recently updated, then the first in sort order.
WITH rep_record AS (
    SELECT b.rep_id, r.source_name, r.rep_key, r.name, r.team, r.region, r.email, r.mobile, r.userid, r.updated_at
    FROM staging.sales_rep r
    JOIN marts.bridge_sales_rep b ON b.source_name = r.source_name AND b.rep_ref = r.rep_key
),
attribute AS (
    SELECT rep_id, 'name' AS attribute, name AS value, updated_at FROM rep_record WHERE name IS NOT NULL
    UNION ALL SELECT rep_id, 'team', team, updated_at FROM rep_record WHERE team IS NOT NULL
    UNION ALL SELECT rep_id, 'region', region, updated_at FROM rep_record WHERE region IS NOT NULL
    UNION ALL SELECT rep_id, 'email', email, updated_at FROM rep_record WHERE email IS NOT NULL
    UNION ALL SELECT rep_id, 'mobile', mobile, updated_at FROM rep_record WHERE mobile IS NOT NULL
    UNION ALL SELECT rep_id, 'userid', userid, updated_at FROM rep_record WHERE userid IS NOT NULL
),
voted AS (
    SELECT
        rep_id, attribute, value,
        ROW_NUMBER() OVER (PARTITION BY rep_id, attribute
                           ORDER BY COUNT(*) DESC, MAX(updated_at) DESC NULLS LAST, value) AS rn
    FROM attribute
    GROUP BY rep_id, attribute, value
),
survivor AS (
    SELECT
        rep_id,
        MAX(CASE WHEN attribute = 'name' THEN value END) AS name,
        MAX(CASE WHEN attribute = 'team' THEN value END) AS team,
        MAX(CASE WHEN attribute = 'region' THEN value END) AS region,
        MAX(CASE WHEN attribute = 'email' THEN value END) AS email,
        MAX(CASE WHEN attribute = 'mobile' THEN value END) AS mobile,
        MAX(CASE WHEN attribute = 'userid' THEN value END) AS userid
    FROM voted
    WHERE rn = 1
    GROUP BY rep_id
),
lineage AS (
    SELECT
        rep_id,
        COUNT(*) AS source_records,
        COUNT(DISTINCT source_name) AS system_count,
        string_agg(DISTINCT source_name, ', ' ORDER BY source_name) AS systems,
        string_agg(DISTINCT source_name || ':' || rep_key, ', ' ORDER BY source_name || ':' || rep_key) AS rep_keys
    FROM rep_record
    GROUP BY rep_id
)
SELECT
    l.rep_id,
    s.name,
    s.team,
    s.region,
    s.email,
    s.mobile,
    s.userid,
    l.source_records,
    l.system_count,
    l.systems,
    l.rep_keys
FROM lineage l
JOIN survivor s ON s.rep_id = l.rep_id
